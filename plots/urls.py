app_name = "plots"

urlpatterns: list = []
