from django.urls import path

from account import views

app_name = "account"
urlpatterns = [
    path("account/", views.overview, name="overview"),
    path("account/statement/", views.statement, name="statement"),
    path("account/security/", views.security, name="security"),
    path("account/withdraw/", views.withdraw, name="withdraw"),
    path("account/deposit/", views.deposit, name="deposit"),
    path("account/api-session/", views.api_session, name="api-session"),
    path("account/ws-token", views.ws_token, name="ws-token"),
    path("account/figures", views.figures, name="figures"),
]
