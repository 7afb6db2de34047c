local status = ctx.resp.status_code
counts[status] = (counts[status] or 0) + 1
