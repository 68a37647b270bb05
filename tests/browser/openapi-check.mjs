// A checker for the subset of OpenAPI 3.0 schemas that docs/openapi.yaml uses: $ref, allOf, oneOf,
// nullable, type, enum, required, properties, items, minItems/maxItems, minimum/maximum, pattern.
// Extra properties are allowed (the API may grow). Returns a list of "path: problem" strings.

export function checkSchema(spec, schema, value, where = '$', out = []) {
    if (out.length > 50) return out;
    if (schema.$ref) {
        const name = schema.$ref.replace('#/components/schemas/', '');
        const target = spec.components.schemas[name];
        if (!target) out.push(`${where}: unknown $ref ${schema.$ref}`);
        else checkSchema(spec, target, value, where, out);
        return out;
    }
    if (value === null) {
        const nullable = schema.nullable || (schema.allOf || []).some((s) => s.nullable);
        if (!nullable) out.push(`${where}: null where ${describe(schema)} is required`);
        return out;
    }
    for (const s of schema.allOf || []) checkSchema(spec, s, value, where, out);
    if (schema.oneOf) {
        const ok = schema.oneOf.filter((s) => checkSchema(spec, s, value, where, []).length === 0).length;
        if (ok !== 1) out.push(`${where}: matches ${ok} of the ${schema.oneOf.length} oneOf schemas`);
    }
    if (schema.type && !typeOk(schema.type, value)) {
        out.push(`${where}: ${JSON.stringify(value)?.slice(0, 60)} is not ${schema.type}`);
        return out;
    }
    if (schema.enum && !schema.enum.includes(value)) out.push(`${where}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
    if (typeof value === 'number') {
        if (schema.minimum != null && value < schema.minimum) out.push(`${where}: ${value} < ${schema.minimum}`);
        if (schema.maximum != null && value > schema.maximum) out.push(`${where}: ${value} > ${schema.maximum}`);
    }
    if (typeof value === 'string' && schema.pattern && !new RegExp(schema.pattern).test(value))
        out.push(`${where}: "${value}" does not match ${schema.pattern}`);
    if (Array.isArray(value)) {
        if (schema.minItems != null && value.length < schema.minItems) out.push(`${where}: fewer than ${schema.minItems} items`);
        if (schema.maxItems != null && value.length > schema.maxItems) out.push(`${where}: more than ${schema.maxItems} items`);
        if (schema.items) value.forEach((v, i) => checkSchema(spec, schema.items, v, `${where}[${i}]`, out));
    } else if (typeof value === 'object') {
        for (const k of schema.required || []) if (!(k in value)) out.push(`${where}: missing "${k}"`);
        for (const [k, s] of Object.entries(schema.properties || {}))
            if (k in value) checkSchema(spec, s, value[k], `${where}.${k}`, out);
    }
    return out;
}

function typeOk(type, v) {
    switch (type) {
        case 'object': return typeof v === 'object' && !Array.isArray(v);
        case 'array': return Array.isArray(v);
        case 'string': return typeof v === 'string';
        case 'integer': return Number.isInteger(v);
        case 'number': return typeof v === 'number' && Number.isFinite(v);
        case 'boolean': return typeof v === 'boolean';
        default: return true;
    }
}

function describe(schema) {
    return schema.$ref ? schema.$ref.split('/').pop() : schema.type || 'a value';
}

// The schema of a path's 200 (or given status) JSON answer.
export function responseSchema(spec, pathKey, status = '200') {
    const op = spec.paths[pathKey]?.get;
    if (!op) throw new Error(`docs/openapi.yaml has no GET ${pathKey}`);
    let r = op.responses[status];
    if (!r) throw new Error(`docs/openapi.yaml: GET ${pathKey} has no ${status} response`);
    if (r.$ref) r = spec.components.responses[r.$ref.split('/').pop()];
    return r.content['application/json'].schema;
}
