"""The API's documentation pages and their assets."""
