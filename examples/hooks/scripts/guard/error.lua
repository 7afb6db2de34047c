log.error("guard failed", { hook = err.hook, msg = err.msg })
