"""The lookup layer: Redis keys, value codec, connection, client, HTTP app. No Spark imports here."""
