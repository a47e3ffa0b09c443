from rest_framework.routers import SimpleRouter

from workers.api import views

router = SimpleRouter()
router.register("hosts", views.HostViewSet, basename="host")

urlpatterns = router.urls
