// Open a DLC file with Netron's own DLC reader and print what Netron sees as JSON.
//
//   node tests/netron_check.mjs <netron_package_dir> <file.dlc>
//
// Everything that interprets the file is Netron's code: the ZIP container is parsed by
// netron/zip.js, the byte stream is netron/base.js's BinaryStream, the flatbuffers are decoded by
// netron/dlc.js + dlc-schema.js + flatbuffers.js and dlc.metadata by text.js.  This script only
// supplies the small "context" object that Netron's view (view.js) normally hands to a
// ModelFactory, implementing exactly what dlc.js uses, and then summarises the resulting model.
//
// Exit status: 0 on success (JSON on stdout); 1 with the error on stderr if Netron does not
// recognise the file or raises while opening it; 2 on bad usage.

import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';

const usage = () => {
    process.stderr.write('usage: node netron_check.mjs <netron_package_dir> <file.dlc>\n');
    process.exit(2);
};

const [packageDir, file] = process.argv.slice(2);
if (!packageDir || !file) {
    usage();
}

const load = async (name) => import(pathToFileURL(path.join(packageDir, name)).href);

// Mirrors view.Metadata (view.js): types by name, attribute lookup by (type, name).
class Metadata {

    constructor(types) {
        this._types = new Map();
        this._attributes = new Map();
        if (Array.isArray(types)) {
            for (const type of types) {
                this._types.set(type.name, type);
                if (type.identifier !== undefined) {
                    this._types.set(type.identifier, type);
                }
            }
        }
    }

    type(name) {
        if (!this._types.has(name)) {
            this._types.set(name, { name: name.toString() });
        }
        return this._types.get(name);
    }

    attribute(type, name) {
        const key = `${type}:${name}`;
        if (!this._attributes.has(key)) {
            this._attributes.set(key, null);
            const metadata = this.type(type);
            if (metadata && Array.isArray(metadata.attributes)) {
                for (const attribute of metadata.attributes) {
                    this._attributes.set(`${type}:${attribute.name}`, attribute);
                }
            }
        }
        return this._attributes.get(key);
    }
}

// The subset of view.Context (view.js) that dlc.js uses.
class Context {

    constructor(base, zip, filePath, stream) {
        this._base = base;
        this._zip = zip;
        this._path = filePath;
        this.identifier = path.basename(filePath);
        this.stream = stream;
        this._content = new Map();
        this.type = undefined;
        this.value = undefined;
    }

    // Like view.Context.peek('zip'): the archive's entries (Map name -> stream), or the error
    // zip.js raised, or undefined if the data is not a ZIP archive.
    async peek(type) {
        if (type !== 'zip') {
            return undefined;
        }
        if (!this._content.has(type)) {
            this._content.set(type, undefined);
            const position = this.stream.position;
            try {
                const archive = this._zip.Archive.open(this.stream, 'zip');
                if (archive) {
                    this._content.set(type, archive.entries);
                }
            } catch (error) {
                this._content.set(type, error);
            }
            if (this.stream.position !== position) {
                this.stream.seek(position);
            }
        }
        return this._content.get(type);
    }

    set(type, value) {
        this.type = type;
        this.value = value;
        return type;
    }

    async require(id) {
        return load(`${id}.js`);
    }

    async metadata(name) {
        const data = fs.readFileSync(path.join(packageDir, name), 'utf-8');
        return new Metadata(JSON.parse(data));
    }

    // Sibling files (a bare 'model' / 'model.params' next to the opened file).
    async fetch(name) {
        const sibling = path.join(path.dirname(this._path), name);
        const buffer = new Uint8Array(fs.readFileSync(sibling));
        return new Context(this._base, this._zip, sibling, new this._base.BinaryStream(buffer));
    }
}

const shapeOf = (type) => (type && type.shape && Array.isArray(type.shape.dimensions) ?
    type.shape.dimensions.map((d) => Number(d)) : null);

const decode = (tensor, count) => {
    if (!tensor || !tensor.values) {
        return null;
    }
    const dataType = tensor.type ? tensor.type.dataType : '?';
    if (tensor.encoding !== '<') {
        return Array.from(tensor.values).slice(0, count).map(Number);
    }
    // Raw little-endian bytes: copy (flatbuffers vectors need not be aligned) and decode.
    const bytes = new Uint8Array(tensor.values);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const values = [];
    switch (dataType) {
        case 'float32':
            for (let i = 0; i < count && (i + 1) * 4 <= bytes.length; i++) {
                values.push(view.getFloat32(i * 4, true));
            }
            return values;
        case 'int32':
            for (let i = 0; i < count && (i + 1) * 4 <= bytes.length; i++) {
                values.push(view.getInt32(i * 4, true));
            }
            return values;
        case 'uint32':
            for (let i = 0; i < count && (i + 1) * 4 <= bytes.length; i++) {
                values.push(view.getUint32(i * 4, true));
            }
            return values;
        default:
            return Array.from(bytes.subarray(0, count));
    }
};

const tensorSummary = (tensor) => ({
    name: tensor.name,
    dtype: tensor.type ? tensor.type.dataType : null,
    shape: shapeOf(tensor.type),
    encoding: tensor.encoding,
    byteLength: tensor.values ? tensor.values.length : 0,
    first: decode(tensor, 8)
});

const valueSummary = (value) => ({
    name: value.name,
    dtype: value.type ? value.type.dataType : null,
    shape: shapeOf(value.type),
    initializer: value.initializer ? tensorSummary(value.initializer) : null
});

const plain = (value) => {
    if (value === null || value === undefined) {
        return null;
    }
    if (typeof value === 'bigint') {
        return value.toString();
    }
    if (ArrayBuffer.isView(value)) {
        return Array.from(value, (v) => (typeof v === 'bigint' ? v.toString() : v));
    }
    if (Array.isArray(value)) {
        return value.map(plain);
    }
    if (value && value.type && value.type.shape && 'values' in value) {
        return { tensor: tensorSummary(value) };
    }
    if (typeof value === 'object') {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
    }
    return value;
};

const argumentSummary = (argument) => ({
    name: argument.name,
    values: Array.isArray(argument.value) ? argument.value.map((v) => v.name) : []
});

const main = async () => {
    const base = await load('base.js');
    const zip = await load('zip.js');
    if (typeof zip.Archive.import === 'function') {
        await zip.Archive.import();
    }
    const dlc = await load('dlc.js');

    const buffer = new Uint8Array(fs.readFileSync(file));
    const context = new Context(base, zip, file, new base.BinaryStream(buffer));
    const factory = new dlc.ModelFactory();
    const type = await factory.match(context);
    if (!type) {
        const entries = await context.peek('zip');
        const detail = entries instanceof Error ? ` (${entries.message})` : '';
        throw new Error(`Netron's DLC factory does not recognise '${file}'${detail}.`);
    }
    const model = await factory.open(context);

    const graphs = model.modules || model.graphs || [];
    if (graphs.length === 0) {
        throw new Error('Netron opened the file but produced no graph.');
    }
    const values = new Map();
    const collect = (value) => {
        if (value && !values.has(value.name)) {
            values.set(value.name, value);
        }
    };
    const summary = {
        type,
        format: model.format,
        version: model.version === undefined ? null : model.version,
        source: model.source === undefined ? null : model.source,
        metadata: (model.metadata || []).map((m) => ({ name: m.name, value: plain(m.value) })),
        graphs: graphs.map((graph) => {
            const g = {
                name: graph.name,
                inputs: graph.inputs.map((argument) => {
                    argument.value.forEach(collect);
                    return { name: argument.name, values: argument.value.map(valueSummary) };
                }),
                outputs: graph.outputs.map((argument) => {
                    argument.value.forEach(collect);
                    return { name: argument.name, values: argument.value.map(valueSummary) };
                }),
                nodes: graph.nodes.map((node) => {
                    node.inputs.forEach((a) => a.value.forEach(collect));
                    node.outputs.forEach((a) => a.value.forEach(collect));
                    return {
                        name: node.name,
                        type: node.type ? node.type.name : null,
                        category: node.type && node.type.category ? node.type.category : null,
                        inputs: node.inputs.map(argumentSummary),
                        outputs: node.outputs.map((argument) => ({
                            name: argument.name,
                            values: argument.value.map(valueSummary)
                        })),
                        attributes: node.attributes.map((attribute) => ({
                            name: attribute.name,
                            type: attribute.type === undefined ? null : attribute.type,
                            value: plain(attribute.value)
                        }))
                    };
                })
            };
            g.initializers = Array.from(values.values())
                .filter((value) => value.initializer)
                .map((value) => ({ value: value.name, ...tensorSummary(value.initializer) }));
            values.clear();
            return g;
        })
    };
    process.stdout.write(`${JSON.stringify(summary, null, 1)}\n`);
};

main().catch((error) => {
    const message = error && error.message ? error.message : String(error);
    const name = error && error.name ? `${error.name}: ` : '';
    process.stderr.write(`netron_check: ${name}${message}\n`);
    if (error && error.stack) {
        process.stderr.write(`${error.stack}\n`);
    }
    process.exit(1);
});
