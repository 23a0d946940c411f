"""Running zapvisor on several hosts (issue 17): membership and session ownership in Redis with
fencing tokens, and profile snapshots that carry a session's WhatsApp login from one host to
the next. Nothing here is imported unless ``[cluster] redis_url`` or ``[snapshots] url`` is set,
and every third-party client (redis, boto3) is imported lazily inside its module, so a single
host behaves exactly as before. One module per idea: ``snapshots`` (save, restore, prune a
session's login: the public API), ``archive`` (which profile files hold the login, and the tar
that carries them, verified before anything is written), ``profilelock`` (is a Chrome still
using the profile), ``snapstore`` (the store interface and its shared-directory backend) and
``s3store`` (its S3 backend).
"""
