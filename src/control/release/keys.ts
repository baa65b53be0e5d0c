/**
 * The operator's deploy keys: Ed25519 in PEM files (node:crypto makes, signs
 * and verifies them; nothing here is hand-rolled crypto). dipsctl signs every
 * release with the private key (deploy.signingKey); node agents hold the public
 * keys they trust (deploy.publicKeys) and refuse a release signed by any other.
 * A key is named by its id, the first 16 hex digits of the SHA-256 of its
 * public key, so a refusal can say which key signed and which are trusted.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../shared/config.js';
import { errorMessage } from '../../shared/errors.js';
import { writePrivateFile } from '../../shared/private-file.js';

export interface TrustedKey {
  id: string;
  key: KeyObject;
  file: string;
}

export function keyId(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** Write `<dir>/<name>.pem` (private, 0600) and `<dir>/<name>.pub.pem`; never over an existing key. */
export function generateKeys(dir: string, name = 'dips-deploy'): { privateFile: string; publicFile: string; id: string } {
  const privateFile = path.join(dir, `${name}.pem`);
  const publicFile = path.join(dir, `${name}.pub.pem`);
  for (const file of [privateFile, publicFile]) {
    // a key overwritten by mistake would leave every agent refusing the operator's next deploy
    if (existsSync(file)) throw new ConfigError(`${file} already exists: a deploy key is never overwritten (move it away first)`);
  }
  mkdirSync(dir, { recursive: true });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writePrivateFile(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  writeFileSync(publicFile, publicKey.export({ type: 'spki', format: 'pem' }).toString());
  return { privateFile, publicFile, id: keyId(publicKey) };
}

function readKeyFile(file: string, what: string): string {
  if (!file) throw new ConfigError(`no ${what}: set ${what === 'signing key' ? 'deploy.signingKey (DIPS_DEPLOY_SIGNING_KEY) or --key' : 'deploy.publicKeys (DIPS_DEPLOY_PUBLIC_KEYS)'}; dipsctl keygen makes a pair`);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${what} ${file}: ${errorMessage(err)}`);
  }
}

/** The operator's private key, for dipsctl. */
export function loadSigningKey(file: string): { key: KeyObject; id: string } {
  const pem = readKeyFile(file, 'signing key');
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new ConfigError(`signing key ${file} is not a PEM private key: ${errorMessage(err)}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError(`signing key ${file} is a ${key.asymmetricKeyType} key; deploys are signed with Ed25519 (dipsctl keygen)`);
  return { key, id: keyId(createPublicKey(key)) };
}

/** The public keys an agent trusts (deploy.publicKeys). */
export function loadTrustedKeys(files: string[]): TrustedKey[] {
  return files.map((file) => {
    const pem = readKeyFile(file, 'deploy public key');
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (err) {
      throw new ConfigError(`deploy.publicKeys: ${file} is not a PEM public key: ${errorMessage(err)}`);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError(`deploy.publicKeys: ${file} is a ${key.asymmetricKeyType} key; releases are signed with Ed25519`);
    return { id: keyId(key), key, file };
  });
}

export function signBytes(key: KeyObject, bytes: Buffer): string {
  return sign(null, bytes, key).toString('base64');
}

export function verifyBytes(key: KeyObject, bytes: Buffer, signature: Buffer): boolean {
  try {
    return verify(null, bytes, key, signature);
  } catch {
    return false;
  }
}
