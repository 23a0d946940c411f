"""The page drivers: what a worker does with its page once Chrome is up.

``base`` is the interface (Driver, Emit, DriverFatal, OperationRefused) and ``factory`` picks
the driver a boot spec asks for: ``basic`` opens a URL; ``whatsapp`` follows WhatsApp Web, with
``login`` (its login state machine), ``scriptedpage`` (the page with our script in it),
``chatbot`` (incoming messages and bot commands) and the page script ``wa_inject.js``.

May import the worker's foundations (``protocol``, ``spec``, ``logs``) and ``browser.cdp``
(the page and its CDP calls) only: drivers never touch Chrome's processes.
"""
