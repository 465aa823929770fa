"""Download URLs handed to users: the form is a deliberate setting, because Drive's forms differ.

- ``api``: ``{root}drive/v3/files/{id}?alt=media&acknowledgeAbuse=true[&key=…]``. The documented
  API: never answers with an HTML interstitial, whatever the size, and honours ``Range``. At
  Google, anonymous API calls need an API key: a public project identifier (restrict it to the
  Drive API), not an account credential, since it can only read files shared with anyone.
  ``acknowledgeAbuse`` only matters for files Google flagged as abusive.
- ``usercontent``: ``drive.usercontent.google.com/download?id=…&export=download&confirm=t``:
  where the virus-scan page's button leads; no key, any size, but undocumented.
- ``uc``: ``drive.google.com/uc?id=…&export=download``: the classic link; above a threshold
  (about 100 MB; Drive says "can't scan this file for viruses") it returns an HTML page instead
  of the bytes, so files above ``uc_max_bytes`` get the ``usercontent`` form.

No URL ever carries an OAuth token or anything derived from an account's credentials.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from services.drive.config import DownloadUrlForm, DriveSettings


class DownloadUrlConfigError(ValueError):
    """The URL settings cannot produce working links (e.g. api form at Google without a key)."""


def check_url_settings(settings: DriveSettings) -> None:
    """Refuse settings that would hand out broken links; call it at service start."""
    if settings.url_form is DownloadUrlForm.API and settings.is_google and not settings.api_key:
        raise DownloadUrlConfigError(
            "url_form 'api' at Google needs FILESERVER_DRIVE_API_KEY (an API key restricted to "
            "the Drive API); or choose FILESERVER_DRIVE_URL_FORM=usercontent"
        )


def download_url(settings: DriveSettings, file_id: str, size: int) -> str:
    """The URL from which anyone with it downloads file ``file_id`` of ``size`` bytes."""
    check_url_settings(settings)
    form = settings.url_form
    if form is DownloadUrlForm.UC and size > settings.uc_max_bytes:
        form = DownloadUrlForm.USERCONTENT
    if form is DownloadUrlForm.API:
        query = {"alt": "media", "acknowledgeAbuse": "true"}
        if settings.api_key is not None:
            query["key"] = settings.api_key.get_secret_value()
        return f"{settings.root_url}drive/v3/files/{quote(file_id, safe='')}?{urlencode(query)}"
    if form is DownloadUrlForm.USERCONTENT:
        query = {"id": file_id, "export": "download", "confirm": "t"}
        return f"{settings.usercontent_url}download?{urlencode(query)}"
    return f"{settings.web_url}uc?{urlencode({'id': file_id, 'export': 'download'})}"
