app_name = "info"

urlpatterns: list = []
