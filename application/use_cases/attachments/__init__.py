"""Use cases about attachments: upload, list, read and delete the files kept with an item."""
