// Runs named cases at once and collects what each found: { ok, ...result, ms } or
// { ok: false, error, ms }. Shared by the node client scripts of the real-client tests.
export async function runCases(cases) {
  const out = {};
  await Promise.all(Object.entries(cases).map(async ([name, run]) => {
    const started = Date.now();
    try {
      out[name] = { ok: true, ...(await run()) };
    } catch (error) {
      out[name] = { ok: false, error: `${error?.constructor?.name}: ${error?.message}`.slice(0, 2000) };
    }
    out[name].ms = Date.now() - started;
  }));
  return out;
}
