"""Pants' own entry point (`pants.bin.pants_loader`), run by ./pants, less one start-up cost.

Pants 2.17 builds two rule graphs whenever it starts (every run without pantsd, and pantsd
itself): the real one, and a "bootstrap" scheduler holding the whole Python backend, whose only
use is resolving `[GLOBAL].plugins`. keel loads its rules from `pythonpath`, not as plugins, so
that list is empty and the plugin rule returns nothing; yet building its graph
(`native_engine.scheduler_create`) is about 7 s of a 2-core machine's start-up, more than keel's
own rules cost. With no plugins configured, the bootstrap scheduler is not built at all; with
plugins, Pants runs exactly as shipped. Only for the Pants version keel pins (pants.toml): the
names patched here are internals of that release.

pantsd is started as `sys.executable + sys.argv`, i.e. this file again, so it gets the same.
"""
import sys

PATCHED_VERSION = "2.17.1"


def skip_bootstrap_scheduler_without_plugins() -> None:
    from pants.init import options_initializer
    from pants.init.plugin_resolver import PluginResolver, ResolvedPluginDistributions

    build_bootstrap_scheduler = options_initializer.create_bootstrap_scheduler

    class BuiltOnFirstUse:
        """Stands in for the BootstrapScheduler: PluginResolver reads `.scheduler` only when
        it resolves plugins."""

        def __init__(self, *args):
            self._args = args
            self._built = None

        @property
        def scheduler(self):
            if self._built is None:
                self._built = build_bootstrap_scheduler(*self._args)
            return self._built.scheduler

    resolve_plugins = PluginResolver._resolve_plugins

    def resolve_configured_plugins(self, options_bootstrapper, env, request):
        if not options_bootstrapper.bootstrap_options.for_global_scope().plugins:
            return ResolvedPluginDistributions()
        return resolve_plugins(self, options_bootstrapper, env, request)

    options_initializer.create_bootstrap_scheduler = BuiltOnFirstUse
    PluginResolver._resolve_plugins = resolve_configured_plugins


if __name__ == "__main__":
    # Python put this file's directory first on sys.path; Pants' imports are not to see it.
    del sys.path[0]
    from pants.version import VERSION

    if str(VERSION) == PATCHED_VERSION:
        skip_bootstrap_scheduler_without_plugins()

    from pants.bin.pants_loader import main

    sys.exit(main())
