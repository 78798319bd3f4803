// kafkajs-publish.js - publishes events to hookline with kafkajs (npm, pinned in package.json),
// written from docs/events.md alone: topic <prefix>.events, key = tenant, idempotent producer
// with acks=all; form 1 (the JSON envelope as the value) and form 2 (hl-tenant / hl-type /
// hl-id headers, the raw data as the value), plus one header record without hl-type, which the
// contract says goes to the DLQ.
//
//   node kafkajs-publish.js BROKERS TOPIC TENANT > published.json
//
// Prints what it sent: [{"form","id"|null,"type","data_text","timestamp_ms"|null,"timestamp"|null}].
"use strict";
const { Kafka, logLevel } = require("kafkajs");

async function main() {
  const [brokers, topic, tenant] = process.argv.slice(2);
  const kafka = new Kafka({ clientId: "interop-kafkajs", brokers: brokers.split(","), logLevel: logLevel.ERROR });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const sent = [];
  const messages = [];
  const base = Date.now() - 60000;
  // Form 1: the envelope. With and without id / timestamp; extra members are allowed.
  for (let i = 0; i < 6; i++) {
    const ev = { tenant, type: "invoice.paid", data: { invoice: "in_" + i, amount: 1200 + i, note: "r\u00e9sum\u00e9" } };
    if (i % 2 === 0) ev.id = "evt_kjs_env_" + i;
    if (i % 3 === 0) ev.timestamp = "2026-11-22T10:00:0" + i + "Z";
    ev.source = "kafkajs"; // an extra top-level member: ignored, not delivered
    messages.push({ key: tenant, value: JSON.stringify(ev) });
    sent.push({ form: "envelope", id: ev.id || null, type: ev.type, data_text: JSON.stringify(ev.data),
                timestamp: ev.timestamp || null, timestamp_ms: null });
  }
  // Form 2: headers + raw data, with an explicit record timestamp (the event time).
  const datas = [{ order: 1, items: [1, 2, 3] }, [1, "two", null], "plain string", 12.5, { nested: { deep: true } }];
  datas.forEach((d, i) => {
    const headers = { "hl-tenant": tenant, "hl-type": "order.created" };
    const id = i === 4 ? null : "evt_kjs_hdr_" + i; // the last one without hl-id: generated
    if (id) headers["hl-id"] = id;
    const ts = base + i * 1000;
    messages.push({ key: tenant, value: JSON.stringify(d), headers, timestamp: String(ts) });
    sent.push({ form: "headers", id, type: "order.created", data_text: JSON.stringify(d), timestamp: null, timestamp_ms: ts });
  });
  // A header record without hl-type: invalid by the contract, goes to the DLQ.
  messages.push({ key: tenant, value: "{}", headers: { "hl-tenant": tenant, "hl-id": "evt_kjs_notype" } });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages });
  await producer.disconnect();
  process.stdout.write(JSON.stringify(sent) + "\n");
}

main().catch((e) => {
  console.error("kafkajs-publish:", e);
  process.exit(1);
});
