"""Wire-format tests of the Drive v3 emulator (services/drive_emulator)."""
