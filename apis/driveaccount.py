"""The DriveAccount custom resource: one Google Drive account of the download pool."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import ConfigDict, Field

from apis.common import Condition, Model, Quantity


class SecretKeyRef(Model):
    """Where the account's credentials JSON lives (OAuth user token or service-account key)."""

    name: str = Field(
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    )
    key: str = Field(
        default="credentials.json", min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$"
    )


class DriveAccountSpec(Model):
    """What the pool owner declares; the operator registers it with the Uploader."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.email == oldSelf.email",
                    "message": "email is immutable: create a new DriveAccount for another account",
                }
            ]
        }
    )

    email: str = Field(
        max_length=320,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="The Google account's address.",
    )
    display_name: str | None = Field(default=None, max_length=200)
    credentials_secret_ref: SecretKeyRef = Field(
        description="Secret holding the account's credentials; never copied into this resource."
    )
    daily_download_budget: Quantity = Field(
        default=100 * 10**9,
        description="Bytes the pool may hand out from this account per day (default 100G).",
    )
    storage_limit: Quantity = Field(
        default=15 * 10**9,
        description="Bytes of Drive storage placement may use on the account (default 15G); "
        "never below what it already holds.",
    )
    enabled: bool = Field(default=True, description="False drains the account: no new URLs.")


class DriveAccountStatus(Model):
    """What the operator observed; written only through the status subresource."""

    CONDITION_TYPES: ClassVar[tuple[str, ...]] = ("Ready", "CredentialsValid", "BudgetAvailable")

    observed_generation: int | None = Field(default=None, ge=0)
    conditions: list[Condition] = Field(default_factory=list)
    uploader_account_id: str | None = None
    used_today_bytes: int | None = Field(default=None, ge=0)
    remaining_today_bytes: int | None = Field(default=None, ge=0)
    storage_used_bytes: int | None = Field(default=None, ge=0)
    replicas: int | None = Field(default=None, ge=0, description="Replicas this account holds.")
    last_sync_time: datetime | None = None
    credentials_version: str | None = Field(
        default=None,
        max_length=200,
        description="uid/resourceVersion of the Secret whose credentials the Uploader holds.",
    )


class DriveAccount(Model):
    """A Google Drive account of the download pool, registered with the Uploader."""

    KIND: ClassVar[str] = "DriveAccount"
    PLURAL: ClassVar[str] = "driveaccounts"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("da", "dacc")

    spec: DriveAccountSpec
    status: DriveAccountStatus | None = None
