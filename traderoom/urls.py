from django.contrib.auth import views as auth_views
from django.urls import path

from traderoom import views

urlpatterns = [
    path("traderoom/", views.traderoom, name="traderoom"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
