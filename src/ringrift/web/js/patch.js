// RFC 7386 JSON Merge Patch: objects merge recursively, null deletes a key, anything else
// (arrays, scalars) replaces the target whole. Returns a new value; the input is not changed.

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export function mergePatch(target, patch) {
  if (!isObject(patch)) return patch;
  const out = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}
