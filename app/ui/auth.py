"""Who is using this session. Three modes:

- OpenID Connect (`[auth]` in .streamlit/secrets.toml): st.login; the role comes
  from WARROOM_ROLES by e-mail (WARROOM_DEFAULT_ROLE otherwise);
- local accounts (`warroom user add`): a sign-in form, argon2-checked;
- neither: a clearly bannered demo mode that answers only on loopback.
"""

from __future__ import annotations

import ipaddress

import streamlit as st

from app import runtime, settings
from app.domain import accounts
from app.domain.auth import Actor, roles_from_mapping

DEMO = Actor("demo", "admin")


def mode() -> str:
    if settings.oidc_configured():
        return "oidc"
    if accounts.has_accounts(runtime.store()):
        return "local"
    return "demo"


def _is_loopback(ip: str | None) -> bool:
    if not isinstance(ip, str) or not ip:
        return True  # no client address (AppTest, bare mode)
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def current_actor() -> Actor:
    """Sign the session in (or stop the script at the sign-in screen) and return its Actor."""
    preset = st.session_state.get("actor")
    m = mode()
    if m == "oidc":
        if not st.user.get("is_logged_in"):
            st.title("warroom")
            st.write("Sign in to open the war room.")
            if st.button("Sign in", key="login"):
                st.login()
            st.stop()
        email = (st.user.get("email") or "").lower()
        role = roles_from_mapping(settings.get("roles")).get(email, settings.get("default_role"))
        actor = Actor(email or "unknown", role)
        with st.sidebar:
            st.caption(f"Signed in as {actor.name} ({actor.role})")
            if st.button("Sign out", key="logout"):
                st.logout()
        return actor
    if m == "local":
        if isinstance(preset, Actor):
            with st.sidebar:
                st.caption(f"Signed in as {preset.name} ({preset.role})")
                if st.button("Sign out", key="logout"):
                    del st.session_state["actor"]
                    st.rerun()
            return preset
        st.title("warroom")
        with st.form("signin"):
            name = st.text_input("User", max_chars=100)
            password = st.text_input("Password", type="password", max_chars=200)
            if st.form_submit_button("Sign in"):
                actor = accounts.verify(runtime.store(), name=name, password=password)
                if actor is None:
                    st.error("Unknown user or wrong password.")
                else:
                    st.session_state["actor"] = actor
                    st.rerun()
        st.stop()
    # demo mode
    try:
        ip = st.context.ip_address
    except Exception:
        ip = None
    if not _is_loopback(ip):
        st.error("This warroom runs in demo mode (no sign-in configured) and only answers on this machine.")
        st.stop()
    st.warning("Demo mode: no sign-in is configured, so everyone on this machine acts as `demo` (admin). "
               "Configure `[auth]` in .streamlit/secrets.toml or add accounts with `warroom user add`.", icon="🧪")
    return preset if isinstance(preset, Actor) else DEMO


def actor() -> Actor:
    """The Actor that main.py signed in for this run."""
    return st.session_state.get("_current_actor", DEMO)
