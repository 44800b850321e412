"""build-support/pants_main.py, the entry point ./pants runs: Pants' bootstrap scheduler is built
only when [GLOBAL].plugins needs it, and plugins are still resolved when set."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

from pants.init import options_initializer
from pants.init.plugin_resolver import PluginResolver, ResolvedPluginDistributions
from pants.version import VERSION


def load_pants_main():
    spec = importlib.util.spec_from_file_location("pants_main", Path("build-support/pants_main.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines the patch; applies nothing (not __main__)
    return module


def bootstrapper(plugins: list[str]) -> SimpleNamespace:
    options = SimpleNamespace(plugins=plugins)
    return SimpleNamespace(bootstrap_options=SimpleNamespace(for_global_scope=lambda: options))


def test_the_patched_version_is_the_pinned_one() -> None:
    assert str(VERSION) == load_pants_main().PATCHED_VERSION


def test_bootstrap_scheduler_is_built_only_for_plugins(monkeypatch) -> None:
    built: list[tuple] = []
    scheduler = SimpleNamespace(scheduler="the bootstrap scheduler")
    monkeypatch.setattr(options_initializer, "create_bootstrap_scheduler", lambda *a: built.append(a) or scheduler)
    resolved: list[tuple] = []
    monkeypatch.setattr(
        PluginResolver, "_resolve_plugins", lambda self, ob, env, req: resolved.append((self._scheduler.scheduler, req)) or ["dist"]
    )
    load_pants_main().skip_bootstrap_scheduler_without_plugins()

    # OptionsInitializer.__init__ calls the module's create_bootstrap_scheduler: nothing is built.
    stand_in = options_initializer.create_bootstrap_scheduler("options bootstrapper", "executor")
    resolver = PluginResolver(stand_in)
    assert built == []

    # No plugins: nothing resolved, still nothing built.
    assert resolver._resolve_plugins(bootstrapper([]), {}, "request") == ResolvedPluginDistributions()
    assert built == [] and resolved == []

    # Plugins: the scheduler is built then (once), and Pants' own resolution runs with it.
    assert resolver._resolve_plugins(bootstrapper(["keel-plugin==1"]), {}, "request") == ["dist"]
    assert resolver._resolve_plugins(bootstrapper(["keel-plugin==1"]), {}, "request") == ["dist"]
    assert built == [("options bootstrapper", "executor")]
    assert resolved == [("the bootstrap scheduler", "request")] * 2
