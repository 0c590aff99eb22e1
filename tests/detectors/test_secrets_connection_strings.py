"""Passwords in URL query strings and connection strings (issue 14): the password itself is the
finding's span, with the rule that owns the shape, and look-alikes stay silent."""

from __future__ import annotations

import pytest

from detectors.secrets import SecretDetector


@pytest.fixture(scope="module")
def detector() -> SecretDetector:
    return SecretDetector()


def secrets(detector: SecretDetector, text: str) -> list[tuple[str, str]]:
    return [(f.rule, text[f.start : f.end]) for f in detector.scan(text)]


@pytest.mark.parametrize(
    ("text", "rule", "password"),
    [
        ("jdbc:mysql://host:3306/db?user=u&password=Vn3kQz8Lp2", "url-password", "Vn3kQz8Lp2"),
        ("jdbc:postgresql://db.prod:5432/shop?user=shop&password=h7Kp2QwXz9&ssl=true", "url-password", "h7Kp2QwXz9"),
        ("jdbc:sqlserver://db01:1433;databaseName=shop;user=app;password=Vn3kQz8Lp2x", "url-password", "Vn3kQz8Lp2x"),
        ("jdbc:oracle:thin:app/Vn3kQz8Lp2@db01:1521/ORCL", "url-password", "Vn3kQz8Lp2"),
        ("redis://:s3cr3tR3d1sP4ss@cache.prod:6379/0", "url-password", "s3cr3tR3d1sP4ss"),
        ("redis://cache.prod:6379/0?password=s3cr3tR3d1sP4ss", "url-password", "s3cr3tR3d1sP4ss"),
        ("amqp://guest_user:Gq8mPz4Lt2@rabbit.prod:5672/", "url-password", "Gq8mPz4Lt2"),
        ("amqps://rabbit.prod:5671/vhost?heartbeat=30&password=Gq8mPz4Lt2", "url-password", "Gq8mPz4Lt2"),
        ("https://x.io/cb?passwd=Vn3kQz8Lp2&x=1", "url-password", "Vn3kQz8Lp2"),
        ("Driver={ODBC Driver 18 for SQL Server};Server=tcp:db01,1433;Uid=report;Pwd={h7Kp2Q;wXz9};",
         "connection-string-password", "h7Kp2Q;wXz9"),
        ("DSN=shop;UID=report;PWD=h7Kp2QwXz9", "connection-string-password", "h7Kp2QwXz9"),
    ],
)
def test_a_password_in_a_url_query_or_connection_string_is_found(detector, text, rule, password):
    assert (rule, password) in secrets(detector, text)


@pytest.mark.parametrize(
    "text",
    [
        "jdbc:mysql://db.prod:3306/shop?user=shop&password=${DB_PASSWORD}",
        "redis://cache.prod:6379/0?password=<redis-password>",
        "https://example.com/reset?password_reset=1&token_type=bearer",
        "jdbc:oracle:thin:@db01:1521/ORCL",
        "Server=db01;User ID=app;Password={your_password};",
    ],
)
def test_placeholders_and_look_alikes_are_no_passwords(detector, text):
    assert secrets(detector, text) == []
