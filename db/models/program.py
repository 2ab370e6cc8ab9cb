"""A merchant's points program configuration: one validated JSON document per merchant."""

from sqlalchemy.orm import Mapped

from db.models.base import Base, SettingsDocument


class ProgramSettings(SettingsDocument, Base):
    """The points program (validated by the points service); ``version`` keeps a stale
    dashboard from overwriting newer settings."""

    __tablename__ = "program_settings"

    # The Klaviyo / Postscript API key, AES-256-GCM encrypted (db.crypto).
    notification_api_key_encrypted: Mapped[str | None]
