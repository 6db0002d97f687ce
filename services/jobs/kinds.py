"""Names of the job kinds, in one place: producers enqueue these, the worker routes them."""

PROVISION = "provision"  # the saga of DESIGN section 3: payload {"order_id": int}
NOTIFY_CUSTOMER = "notify_customer"  # payload {"chat_id", "text", "buttons"}
DELIVER_ALERT = "deliver_alert"  # payload {"alert_id"}
REFUND_ORDER = "refund_order"  # payload {"order_id", "reason"}
ACCOUNT_CHECK = "account_check"  # payload {"account_id"} (or {} for every account)
INSTANCE_HEALTH_CHECK = "instance_health_check"  # payload {"instance_id"}
INSTANCE_RESTART = "instance_restart"  # payload {"instance_id"}
INSTANCE_REPROVISION = "instance_reprovision"  # payload {"instance_id"}
INSTANCE_TERMINATE = "instance_terminate"  # payload {"instance_id"}
BOT_PROFILE = "bot_profile"  # payload {"instance_id", "notify_chat_id", "description"?, "photo_file_id"?}
