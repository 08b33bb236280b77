// End-to-end test of the generated TypeScript client against a running quire.
//
// clients/test.sh starts an embedded quire and sets QUIRE_URL and QUIRE_KEY (an admin key).
// Everything goes through the generated SDK (src/generated), as a user's code would.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { inflateRawSync } from 'node:zlib';

import { client } from '../src/generated/client.gen';
import {
    downloadBatchArchive,
    downloadJobFile,
    getBatch,
    getJob,
    listJobs,
    submitBatch,
    submitCertificate,
} from '../src/generated/sdk.gen';
import type { BatchRequest, BatchView, JobView } from '../src/generated/types.gen';

const url = process.env.QUIRE_URL;
const key = process.env.QUIRE_KEY;
assert.ok(url && key, 'QUIRE_URL and QUIRE_KEY must be set (clients/test.sh sets them)');
client.setConfig({ baseUrl: url, auth: () => key });

const photo = readFileSync(join(__dirname, '..', '..', '..', 'fixtures', 'photo.jpg'));

function pdfText(pdf: Uint8Array): string {
    const out = spawnSync('pdftotext', ['-', '-'], { input: pdf });
    assert.equal(out.status, 0, String(out.stderr));
    return out.stdout.toString();
}

/** The job once it ended: the server long-polls up to 20 s a call, 3 calls. */
async function finished(id: string): Promise<JobView> {
    let status = 'unknown';
    for (let i = 0; i < 3; i++) {
        const { data, error } = await getJob({ path: { id }, query: { wait: 20 } });
        assert.ok(data, JSON.stringify(error));
        status = data.status;
        if (['succeeded', 'dead', 'cancelled'].includes(status)) {
            return data;
        }
    }
    throw new Error(`job ${id} did not finish: ${status}`);
}

/** The files of a ZIP archive (stored or deflated), by name. */
function unzip(archive: Buffer): Map<string, Buffer> {
    const files = new Map<string, Buffer>();
    const end = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    assert.ok(end >= 0, 'not a ZIP archive');
    let at = archive.readUInt32LE(end + 16);
    const count = archive.readUInt16LE(end + 10);
    for (let i = 0; i < count; i++) {
        assert.equal(archive.readUInt32LE(at), 0x02014b50, 'central directory entry');
        const method = archive.readUInt16LE(at + 10);
        const size = archive.readUInt32LE(at + 20);
        const nameLength = archive.readUInt16LE(at + 28);
        const extra = archive.readUInt16LE(at + 30);
        const comment = archive.readUInt16LE(at + 32);
        const local = archive.readUInt32LE(at + 42);
        const name = archive.subarray(at + 46, at + 46 + nameLength).toString();
        const start = local + 30 + archive.readUInt16LE(local + 26) + archive.readUInt16LE(local + 28);
        const raw = archive.subarray(start, start + size);
        files.set(name, method === 8 ? inflateRawSync(raw) : Buffer.from(raw));
        at += 46 + nameLength + extra + comment;
    }
    return files;
}

test('a certificate with a photo is rendered, downloaded and listed', async () => {
    const { data: submitted, error } = await submitCertificate({
        body: {
            recipient_name: 'Grace Script',
            course_name: 'Generated Clients',
            photo: photo.toString('base64'),
        },
    });
    assert.ok(submitted, JSON.stringify(error));
    const job = await finished(submitted.id);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));

    const file = await downloadJobFile({ path: { id: submitted.id }, parseAs: 'blob' });
    assert.equal(file.response.status, 200);
    assert.ok(file.data);
    const pdf = Buffer.from(await file.data.arrayBuffer());
    assert.equal(pdf.subarray(0, 4).toString(), '%PDF');
    assert.match(pdfText(pdf), /Grace Script/);

    const { data: page } = await listJobs({
        query: { status: 'succeeded', kind: 'certificate', search: 'Grace Script' },
    });
    assert.ok(page);
    assert.ok(page.jobs.some((j) => j.id === submitted.id));
    assert.ok(page.jobs.every((j) => j.status === 'succeeded' && j.kind === 'certificate'));
});

test('a CSV batch is issued and its archive holds the PDFs', async () => {
    const csv = 'recipient_name,course_name\nAda Script,Generated Clients\nAlan Script,Generated Clients\n';
    // The SDK types the body as the JSON form (the generator takes the first media type); the
    // CSV form is the same operation with `Content-Type: text/csv` and the bytes sent as they are.
    const { data: accepted, error } = await submitBatch({
        body: new Blob([csv], { type: 'text/csv' }) as unknown as BatchRequest,
        bodySerializer: null,
        headers: { 'Content-Type': 'text/csv' },
    });
    assert.ok(accepted, JSON.stringify(error));
    assert.equal(accepted.total, 2);
    let batch: BatchView = accepted;
    for (let i = 0; i < 3 && !batch.complete; i++) {
        const { data } = await getBatch({ path: { id: batch.id }, query: { wait: 20 } });
        assert.ok(data);
        batch = data;
    }
    assert.ok(batch.complete, JSON.stringify(batch));

    const archive = await downloadBatchArchive({ path: { id: batch.id }, parseAs: 'blob' });
    assert.equal(archive.response.status, 200);
    assert.ok(archive.data);
    const files = unzip(Buffer.from(await archive.data.arrayBuffer()));
    const pdfs = [...files].filter(([name]) => name.endsWith('.pdf'));
    assert.equal(pdfs.length, 2, [...files.keys()].join(', '));
    const text = pdfs.map(([, pdf]) => pdfText(pdf)).join(' ');
    assert.match(text, /Ada Script/);
    assert.match(text, /Alan Script/);
});

test("a 422 lists its problems with their fields and codes", async () => {
    const { data, error, response } = await submitCertificate({
        body: {
            recipient_name: '  ',
            course_name: 'x'.repeat(1000),
            issued_on: '2026-11-21',
            expires_on: '2026-01-01',
        },
    });
    assert.equal(data, undefined);
    assert.equal(response.status, 422);
    assert.ok(error && 'error' in error, JSON.stringify(error));
    const problems = (error.error.errors ?? []).map((p) => `${p.field}:${p.code}`);
    assert.ok(problems.includes('recipient_name:missing_field'), problems.join(', '));
    assert.ok(problems.includes('course_name:too_long'), problems.join(', '));
    assert.ok(problems.includes('expires_on:dates_out_of_order'), problems.join(', '));
});
