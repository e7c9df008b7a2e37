-- A 1 KiB form post, the same on every request (bench/http.ts post1k).
wrk.method = "POST"
wrk.body = string.rep("x", 1024)
wrk.headers["Content-Type"] = "application/octet-stream"
