from rest_framework.routers import SimpleRouter

from labs.api import views

router = SimpleRouter()
router.register("templates", views.LabTemplateViewSet, basename="template")
router.register("labs", views.LabViewSet, basename="lab")
router.register("courses", views.CourseViewSet, basename="course")

urlpatterns = router.urls
