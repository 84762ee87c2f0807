"""督办看板: the board's pages, rendered on the server and served by ``duban api``.

Units act on their tasks and coordinators watch and decide, in any current browser, with
plain HTML forms: no script is needed for an action, and every asset (one stylesheet) is
served from this process, for offices on networks without internet. A page acts as the
principal of the signed-in session's token, through the same services, authorisation and
audit log as the API (see :mod:`web.session`).
"""
