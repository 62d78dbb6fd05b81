// Hosts whose answers come later (WebCrypto) around a core that decides synchronously.
/**
 * Runs `call(check)`, a synchronous core call that asks `check(...args)` whether a signature
 * verifies, for a host that can only answer later (WebCrypto). A question asked for the first
 * time is answered true and sent to the host (`ask`); once the host has answered every
 * question, the result stands if every answer was true, and otherwise the call runs again
 * with the answers known (the core then refuses the signature, or tries its next key). So
 * every rule, and the order the core applies them in, stays the core's, and nothing the core
 * returns is released before every signature it relied on has verified. `identify` names a
 * question (key and algorithm); each round answers at least one more, so the rounds end.
 */
export async function answeredLater(call, identify, ask) {
  const answers = new Map();
  for (;;) {
    const asked = new Map();
    const check = (...args) => {
      const id = identify(...args);
      const known = answers.get(id);
      if (known !== undefined) return known;
      // The byte arguments are views of wasm memory, valid only during this call.
      if (!asked.has(id)) asked.set(id, ask(...args.map((a) => (a instanceof Uint8Array ? a.slice() : a))).then(Boolean, () => false));
      return true;
    };
    let result;
    let failure;
    let failed = false;
    try {
      result = call(check);
    } catch (err) {
      failure = err;
      failed = true;
    }
    const verdicts = await Promise.all(asked.values());
    [...asked.keys()].forEach((id, i) => answers.set(id, verdicts[i]));
    if (verdicts.every(Boolean)) {
      if (failed) throw failure;
      return result;
    }
  }
}

