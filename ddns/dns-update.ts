/**
 * RFC 2136 UPDATE messages. dns-packet writes the header, the zone section (its "questions"), the
 * prerequisite section (its "answers") and the records to add (class IN); it has no class NONE and
 * cannot write empty rdata, so the deletions of RFC 2136 §2.5.2–2.5.4 are encoded here:
 * - delete an RRset:          NAME TYPE  class ANY  TTL 0  RDLENGTH 0      (§2.5.2)
 * - delete all RRsets at NAME: NAME ANY   class ANY  TTL 0  RDLENGTH 0      (§2.5.3)
 * - delete one RR:            NAME TYPE  class NONE TTL 0  RDATA of the RR  (§2.5.4)
 * Deletions are written before additions, so "delete then add" replaces a set in one message.
 */
import * as dnsPacket from 'dns-packet';
import type { Answer, CaaAnswer, MxAnswer, RecordType, SrvAnswer, StringAnswer, TxtAnswer } from 'dns-packet';

export const OPCODE_UPDATE = 5;
const CLASS_NONE = 254;
const CLASS_ANY = 255;
const TYPE_ANY = 255;

/** What dns-packet exports at run time but its type declarations omit. */
interface DnsPacketInternals {
  answer: { encode(a: Answer): Buffer };
  name: { encode(n: string): Buffer };
}
const internals = dnsPacket as unknown as DnsPacketInternals;

/** Records an update may add or delete one by one (A, AAAA, CNAME, NS, PTR, DNAME, TXT, MX, SRV, CAA). */
export type UpdateRecord = StringAnswer | TxtAnswer | MxAnswer | SrvAnswer | CaaAnswer;

export type UpdateOperation =
  | { op: 'add'; record: UpdateRecord }
  | { op: 'delete-rrset'; name: string; type: RecordType }
  | { op: 'delete-name'; name: string }
  | { op: 'delete-rr'; record: UpdateRecord };

/** Prerequisites (RFC 2136 §2.4) that callers need here: a name in use / not in use. */
export type UpdatePrerequisite = { op: 'name-in-use'; name: string } | { op: 'name-not-in-use'; name: string };

function emptyRecord(name: string, type: number, klass: number): Buffer {
  const owner = internals.name.encode(name);
  const tail = Buffer.alloc(10);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(klass, 2);
  tail.writeUInt32BE(0, 4);
  tail.writeUInt16BE(0, 8);
  return Buffer.concat([owner, tail]);
}

function encodeOperation(op: UpdateOperation): Buffer {
  switch (op.op) {
    case 'add':
      return internals.answer.encode({ ...op.record, class: 'IN' });
    case 'delete-rrset': {
      const type = dnsPacket.encode({ questions: [{ name: '.', type: op.type }] }).readUInt16BE(13);
      return emptyRecord(op.name, type, CLASS_ANY);
    }
    case 'delete-name':
      return emptyRecord(op.name, TYPE_ANY, CLASS_ANY);
    case 'delete-rr': {
      const rr = internals.answer.encode({ ...op.record, class: 'IN', ttl: 0 });
      const nameLen = internals.name.encode(op.record.name).length;
      rr.writeUInt16BE(CLASS_NONE, nameLen + 2);
      return rr;
    }
  }
}

function encodePrerequisite(p: UpdatePrerequisite): Buffer {
  // §2.4.4 name in use: ANY/ANY; §2.4.5 name not in use: ANY/NONE. Both TTL 0, no rdata.
  return emptyRecord(p.name, TYPE_ANY, p.op === 'name-in-use' ? CLASS_ANY : CLASS_NONE);
}

/**
 * An UPDATE for `zone`: header and zone section by dns-packet, then prerequisites, then the
 * operations in order (put deletions first to replace). Not signed: see tsig.ts.
 *
 * @example buildUpdate(0x1234, 'dyn.example.net', [
 *   { op: 'delete-name', name: 'abc.dyn.example.net' },
 *   { op: 'add', record: { type: 'A', name: 'abc.dyn.example.net', ttl: 60, data: '198.51.100.7' } }])
 */
export function buildUpdate(id: number, zone: string, operations: UpdateOperation[], prerequisites: UpdatePrerequisite[] = []): Buffer {
  const head = dnsPacket.encode({ type: 'query', id, flags: OPCODE_UPDATE << 11, questions: [{ name: zone, type: 'SOA', class: 'IN' }] });
  const prereq = prerequisites.map(encodePrerequisite);
  const updates = operations.map(encodeOperation);
  const msg = Buffer.concat([head, ...prereq, ...updates]);
  msg.writeUInt16BE(prereq.length, 6);
  msg.writeUInt16BE(updates.length, 8);
  return msg;
}
