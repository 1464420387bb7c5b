"""
The navigation bar shared by every page.

Entries are ``(label, URL name)`` pairs. The context processor shows only
the entries whose names reverse, so an app that is not installed, or a page
that does not exist yet, leaves no broken link.
"""

NAVIGATION = (
    ("Status", "plots:status"),
    ("Workers", "plots:workers"),
    ("Tasks", "plots:tasks"),
    ("System", "plots:system"),
    ("Profile", "plots:profile"),
    ("Graph", "plots:graph"),
    ("Groups", "plots:groups"),
    ("Info", "info:workers"),
    ("Exceptions", "info:exceptions"),
    ("Logs", "info:logs"),
    ("More", "plots:index"),
)
