// Peer packages of the link benchmark that ship no type declarations (used only by bench/peers/pouchdb.ts).
declare module 'pouchdb-core'
declare module 'pouchdb-adapter-memory'
declare module 'pouchdb-adapter-http'
declare module 'pouchdb-replication'
declare module 'pouchdb-mapreduce'
declare module 'express-pouchdb'
