"""The send queue: every send of the API goes through its session's durable, paced queue.

- ``store``: the SQLite rows (``sends``, ``known_chats``); an entry is stored before its request
  is answered, and its WhatsApp message id before the page is asked to send it.
- ``limits``: the rate limits and the warm-up, counted from the rows.
- ``pacing``: the human part (random gaps, typing, recording).
- ``lane``: one session's sender, one entry at a time; reconciles an entry a crash left in flight.
- ``queues``: the lanes, the API's submit/wait/cancel, and what events tell the queue.
"""
