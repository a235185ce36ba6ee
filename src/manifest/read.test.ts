import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { parseManifestText, readManifests } from './read.js';

describe('parseManifestText', () => {
  it('reads multi-document YAML and skips empty documents', () => {
    const text = ['apiVersion: v1', 'kind: Namespace', 'metadata: {name: a}', '---', '---', 'apiVersion: v1', 'kind: Namespace', 'metadata: {name: b}'].join('\n');
    expect(parseManifestText(text, 'ns.yaml').map((document) => document.source)).toEqual(['ns.yaml#0', 'ns.yaml#2']);
  });

  it('keeps unquoted timestamps as strings', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    kubectl.kubernetes.io/restartedAt: 2026-12-04T10:00:00Z\n';
    const [document] = parseManifestText(text, 'pod.yaml');
    expect(document!.object.metadata!.annotations).toEqual({ 'kubectl.kubernetes.io/restartedAt': '2026-12-04T10:00:00Z' });
  });

  it('reads JSON and expands List kinds', () => {
    const text = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }] });
    expect(parseManifestText(text, 'list.json')).toEqual([
      { source: 'list.json#0.items[0]', object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } } },
    ]);
  });

  it.each([
    { name: 'broken YAML', text: 'kind: [Pod', message: /^bad\.yaml#0: invalid YAML or JSON: / },
    { name: 'a scalar document', text: 'just text', message: 'bad.yaml#0: a document must be a Kubernetes object (a mapping), found string' },
    { name: 'no kind', text: 'apiVersion: v1\nmetadata: {name: a}', message: 'bad.yaml#0: object has no apiVersion or kind' },
    { name: 'list metadata', text: 'apiVersion: v1\nkind: Pod\nmetadata: [a]', message: 'bad.yaml#0: metadata must be a mapping' },
    { name: 'bad second document', text: 'apiVersion: v1\nkind: Pod\n---\n- a', message: 'bad.yaml#1: a document must be a Kubernetes object (a mapping), found a list' },
  ])('names the document for $name', ({ text, message }) => {
    const attempt = (): unknown => parseManifestText(text, 'bad.yaml');
    expect(attempt).toThrow(InputError);
    expect(attempt).toThrow(message);
  });
});

describe('readManifests', () => {
  it('walks folders in name order and reads standard input', async () => {
    const root = mkdtempSync(join(tmpdir(), 'phi-mesh-guard-manifests-'));
    mkdirSync(join(root, 'nested'));
    writeFileSync(join(root, 'b.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n');
    writeFileSync(join(root, 'a.json'), '{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}');
    writeFileSync(join(root, 'nested', 'c.yml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: c}\n');
    writeFileSync(join(root, 'notes.txt'), 'not a manifest');

    const documents = await readManifests([root, '-'], async () => 'apiVersion: v1\nkind: Namespace\nmetadata: {name: d}\n');
    expect(documents.map((document) => document.object.metadata?.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(documents[3]!.source).toBe('-#0');
  });

  it('names a missing path', async () => {
    await expect(readManifests(['/nonexistent/manifests'])).rejects.toThrow('cannot read /nonexistent/manifests: no such file or folder');
  });
});
