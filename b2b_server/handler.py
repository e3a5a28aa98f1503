"""The WSGI handler: Django's own, with a short way through for the balance API.

Quadcode calls the balance API on every trade; those calls are machine-to-machine JSON and need
none of the pages' machinery. Django's handler still walks every request through all twelve
middlewares (the pages-only ones step aside, but each is a call), CSRF's view hook, and the
root URL resolver. For a path that one of the `B2B_FAST_URLCONF` patterns matches, this handler
instead:

- resolves it against those patterns only, with Django's own `URLPattern.resolve` (converters
  and all), and sets `request.resolver_match` where Django would (just before the view);
- runs the middlewares that act on API requests, in the order of `MIDDLEWARE`, each wrapped
  as Django wraps it (`convert_exception_to_response`: an exception becomes the same JSON
  error through the `handler*` views); the pages-only ones (`pages_only = True`) and CSRF's
  (the fast views are CSRF-exempt: it has nothing to do) are left out;
- keeps the rest of Django's handling as it is: `request_started` and, when the server closes
  the response, `request_finished` (the database connection's age and health checks hang on
  them), the request object, and a 4xx/5xx logged as `django.request` logs it.

Everything else (any other path, a fast path with a trailing slash or another spelling) takes
Django's full way. tests/test_fast_path.py holds the two ways to the same answers.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.urls import URLPattern, set_urlconf
from django.utils.log import log_response
from django.utils.module_loading import import_string

# Middlewares that do nothing for a CSRF-exempt view (the only kind the fast way serves).
_NOTHING_FOR_EXEMPT_VIEWS = {"django.middleware.csrf.CsrfViewMiddleware"}


def api_middleware() -> list[str]:
    """The entries of MIDDLEWARE that act on API requests, in order."""
    return [path for path in settings.MIDDLEWARE
            if path not in _NOTHING_FOR_EXEMPT_VIEWS and not getattr(import_string(path), "pages_only", False)]


class FastPathMixin:
    """The fast way, for any Django handler class (the WSGI server's, the test client's)."""

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async)
        module = getattr(settings, "B2B_FAST_URLCONF", None)
        self._fast_patterns: list[URLPattern] = []
        if not module:
            return
        patterns = import_module(module).urlpatterns
        for pattern in patterns:
            if not isinstance(pattern, URLPattern) or not getattr(pattern.callback, "csrf_exempt", False):
                raise ImproperlyConfigured(f"B2B_FAST_URLCONF: {pattern!r} is not a CSRF-exempt view's path().")
        chain = convert_exception_to_response(self._fast_view)
        for path in reversed(api_middleware()):
            instance = import_string(path)(chain)
            # The fast way runs no view, template or exception hooks: a middleware that needs them
            # must be pages-only or stay off the fast way.
            for hook in ("process_view", "process_template_response", "process_exception"):
                if getattr(instance, hook, None) is not None:
                    raise ImproperlyConfigured(f"{path} has {hook}: it cannot run on the fast way (B2B_FAST_URLCONF).")
            chain = convert_exception_to_response(instance)
        self._fast_chain = chain
        self._fast_patterns = list(patterns)

    def fast_match(self, path: str):
        """The fast pattern's ResolverMatch for `path`, or None (then Django's full way)."""
        if not path.startswith("/"):
            return None
        rest = path[1:]
        for pattern in self._fast_patterns:
            match = pattern.resolve(rest)
            if match is not None:
                return match
        return None

    @staticmethod
    def _fast_view(request):
        match = request.resolver_match = request._fast_match
        return match.func(request, *match.args, **match.kwargs)

    def get_response(self, request):
        match = self.fast_match(request.path_info) if self._fast_patterns else None
        if match is None:
            return super().get_response(request)
        set_urlconf(settings.ROOT_URLCONF)
        request._fast_match = match
        response = self._fast_chain(request)
        response._resource_closers.append(request.close)
        if response.status_code >= 400:
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        return response


class FastPathWSGIHandler(FastPathMixin, WSGIHandler):
    """The server's handler (b2b_server.wsgi)."""
