"""What every API endpoint shares, written once: access control, pagination, throttles, errors, schema.

One module per concern; import each name from its module (this package re-exports nothing):

* ``viewsets``: ``NestlabViewSet``, the base of every viewset (restricted querysets, per-action
  object access; another tenant's rows answer 404, a visible object one may not act on 403).
* ``access``: endpoint-level permissions (``PlatformAdminOrNotFound``, ``PlatformAdminWrites``)
  and ``deny``, the one way a view refuses a visible object.
* ``fields``: ``Restricted*RelatedField``, so a request body names only rows its caller may see.
* ``pagination``, ``filters``, ``parsers``, ``throttles``: the classes ``REST_FRAMEWORK`` names.
* ``errors``: ``exception_handler``, the one place errors become responses.
* ``schema``: ``NestlabAutoSchema`` and ``ErrorSerializer`` (the documented error answers).

Import direction: DRF imports the pagination, filter, parser and throttle classes named in the
settings while ``rest_framework.views`` (and ``generics``) is itself being imported. So those
leaves, and this ``__init__``, import nothing that imports DRF's views, generics or viewsets;
``viewsets``, ``schema`` and ``errors`` (which DRF resolves only on first use) may.
``tests/config/test_api_imports.py`` checks both.
"""
