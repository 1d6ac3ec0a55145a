import re
from pathlib import Path

import pytest

from qa_bot.config import CACHE_VARIABLE, ENVIRONMENT_VARIABLES, Settings
from qa_bot.errors import ConfigError
from tests.support import ROOT


def test_settings_come_from_arguments_then_environment() -> None:
    env = {
        "QA_BOT_INDEX": "/srv/index",
        "QA_BOT_PORT": "8080",
        "QA_BOT_ALLOWED_ORIGINS": "https://news.example.com/, https://m.example.com",
    }
    settings = Settings.from_env(env, port=9000)
    assert settings.index_dir == Path("/srv/index")
    assert settings.port == 9000
    assert settings.allowed_origins == ("https://news.example.com", "https://m.example.com")
    assert Settings.from_env({}).allowed_origins == ()


@pytest.mark.parametrize(
    "env, message",
    [
        ({"QA_BOT_PORT": "http"}, "QA_BOT_PORT must be a port number"),
        ({"QA_BOT_ALLOWED_ORIGINS": "news.example.com"}, "takes origins like https://"),
    ],
)
def test_bad_settings_say_what_is_expected(env, message) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(QA_BOT_[A-Z_]+)`", readme))
    assert documented == {*ENVIRONMENT_VARIABLES, CACHE_VARIABLE}


def test_the_rate_limit_storage_is_a_limits_uri_checked_at_start(bot) -> None:
    from qa_bot.serve.app import create_app
    from qa_bot.serve.guards import ReaderLimits

    assert Settings.from_env({}).rate_limit_storage == "memory://"
    shared = Settings.from_env({"QA_BOT_RATE_LIMIT_STORAGE": "redis://10.0.0.7:6379"})
    assert shared.rate_limit_storage == "redis://10.0.0.7:6379"
    ReaderLimits(None, "30/minute", (), shared.rate_limit_storage)  # connects on first use
    for uri in ("nosuch://x", "async+memory://", "redis://:secret@host:port"):
        with pytest.raises(ConfigError, match="^QA_BOT_RATE_LIMIT_STORAGE [^.]*\\.$") as error:
            ReaderLimits(None, "30/minute", (), uri)
        assert "secret" not in str(error.value)
    with pytest.raises(ConfigError, match="not nosuch://"):  # before serving, not on a request
        create_app(Settings(rate_limit_storage="nosuch://x", log_path=None), bot)
