"""A small name -> object registry shared by every family (samplers, weightings, zoo)."""

import difflib
import fnmatch
import inspect


class Registry:
    """Maps names to classes or factories, with wildcard listing and helpful errors.

    Every family of the library (task samplers, weighting strategies, zoo models) owns one
    `Registry`. Entries are added with the `register` decorator and looked up with `get`.

    Args:
        kind: what the registry holds, used in error messages (e.g. `"weighting"`).

    Example:

    >>> samplers = Registry("task sampler")
    >>> @samplers.register("uniform")
    ... class Uniform: ...
    >>> samplers.get("uniform") is Uniform
    True
    """

    def __init__(self, kind):
        self.kind = kind
        self._entries = {}
        self._metadata = {}

    def register(self, name, **metadata):
        """Decorator that registers `obj` under `name` (with optional metadata)."""

        def decorator(obj):
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"A {self.kind} named '{name}' is already registered.")
            self._entries[name] = obj
            self._metadata[name] = dict(metadata)
            return obj

        return decorator

    def unregister(self, name):
        """Removes the entry registered under `name` (e.g. to register it anew); returns it.

        Raises:
            ValueError: if nothing is registered under `name` (listing close names).
        """
        entry = self.get(name)
        del self._entries[name]
        del self._metadata[name]
        return entry

    def get(self, name):
        """Returns the entry registered under `name`, or raises a `ValueError` listing close names."""
        if name in self._entries:
            return self._entries[name]
        close = difflib.get_close_matches(str(name), list(self._entries), n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown {self.kind}: '{name}'.{hint} Available: {', '.join(sorted(self._entries))}."
        )

    def metadata(self, name):
        """Returns the metadata dict given at registration."""
        self.get(name)
        return dict(self._metadata[name])

    def resolve(self, identifier, base, default):
        """An instance from a registered name, a serialized config dict, an instance or `None`.

        Args:
            identifier: a name (instantiated with no arguments), a dict from
                `keras.saving.serialize_keras_object`, an instance of `base`, or `None`.
            base: the family's base class.
            default: the name used for `None`.
        """
        if identifier is None:
            identifier = default
        if isinstance(identifier, base):
            return identifier
        if isinstance(identifier, str):
            entry = self.get(identifier)
            try:
                inspect.signature(entry).bind()
            except TypeError:
                raise ValueError(
                    f"The {self.kind} '{identifier}' needs arguments, so it cannot be given by name alone: "
                    f"pass an instance, e.g. {getattr(entry, '__name__', identifier)}(...). "
                    f"Its signature: {getattr(entry, '__name__', identifier)}{inspect.signature(entry)}"
                ) from None
            except ValueError:  # no signature to inspect (a builtin): let the call say what is wrong
                pass
            return entry()
        if isinstance(identifier, dict):
            import keras

            obj = keras.saving.deserialize_keras_object(identifier)
            if isinstance(obj, base):
                return obj
        hint = ""
        if isinstance(identifier, (list, tuple)) or hasattr(identifier, "shape"):
            hint = " (a name, a config dict or an instance; fixed per-task weights go in Task(weight=...) or StaticWeighting(weights=...))" if self.kind == "weighting strategy" else " (a name, a config dict or an instance)"
        raise ValueError(f"Cannot interpret a {self.kind} from: {identifier!r}{hint}")

    def names(self, pattern="*"):
        """Sorted registered names matching a shell-style `pattern` (e.g. `"film*"`)."""
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name):
        return name in self._entries

    def __iter__(self):
        return iter(self.names())

    def __len__(self):
        return len(self._entries)
