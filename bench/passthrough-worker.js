// The gateway benchmark's baseline: a worker that forwards every request to the same origin
// without verifying anything (what Tollgate would cost if auth were free).
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.ORIGIN_URL + url.pathname + url.search, { method: request.method, headers: request.headers, body: request.body, redirect: "manual" });
  },
};
