/**
 * Node processes serve https with a self-signed certificate made in their data dir. The tests'
 * HTTP clients (global fetch) trust exactly those certificates: each one a test starts is added
 * to the CA list of fetch's global dispatcher — no verification is switched off.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Agent, setGlobalDispatcher } from 'undici'

// One array, shared by reference with every connection the agent makes (undici passes its
// connect options to tls.connect per connection), so adding a certificate needs no new agent.
const trusted: string[] = []
let installed = false

/** Trusts the certificate the node in `dataDir` serves (<data>/tls/cert.pem), if it serves TLS. */
export function trustNode(node: string | { dataDir: string }): void {
  const dir = typeof node === 'string' ? node : node.dataDir
  let pem: string
  try {
    pem = readFileSync(join(dir, 'tls', 'cert.pem'), 'utf8')
  } catch {
    return // plain http (--insecure-http) or its own --tls-cert: nothing to add
  }
  if (!trusted.includes(pem)) trusted.push(pem)
  if (!installed) {
    installed = true
    setGlobalDispatcher(new Agent({ connect: { ca: trusted } }))
  }
}

/**
 * Stops trusting the certificate of the node in `dataDir` (a laptop about to be destroyed): a
 * replacement made for the same unit has the same subject, and the CA list would find the old one.
 */
export function distrustNode(dataDir: string): void {
  let pem: string
  try {
    pem = readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8')
  } catch {
    return
  }
  const at = trusted.indexOf(pem)
  if (at >= 0) trusted.splice(at, 1)
}

/** The certificate of the node in `dataDir`, as PEM (for a test's own TLS clients). */
export function nodeCert(dataDir: string): string {
  return readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8')
}
