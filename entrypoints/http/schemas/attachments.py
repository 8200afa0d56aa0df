"""Bodies of the attachment endpoints (the upload itself is multipart, documented by hand)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from entrypoints.http.schemas.common import ITEM_ID_EXAMPLE, TIMESTAMP_EXAMPLE

ATTACHMENT_ID_EXAMPLE = "0193a5c6-3d2e-7a10-b4c3-9e8f7a6b5c4d"


class AttachmentOut(BaseModel):
    """An attachment as clients see it; its bytes are at its download URL."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": ATTACHMENT_ID_EXAMPLE,
                    "item_id": ITEM_ID_EXAMPLE,
                    "filename": "receipt.pdf",
                    "content_type": "application/pdf",
                    "size": 48213,
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "created_at": TIMESTAMP_EXAMPLE,
                }
            ]
        }
    )

    id: UUID
    item_id: UUID
    filename: str = Field(description="The client's name without any directory part.")
    content_type: str = Field(description="The part's own; `application/octet-stream` if none.")
    size: int = Field(description="In bytes.")
    sha256: str = Field(description="Lowercase hex SHA-256 of the stored bytes (the ETag).")
    created_at: datetime
