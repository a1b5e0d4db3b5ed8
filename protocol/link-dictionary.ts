/**
 * The preset dictionary of the link's deflate-raw compression: what cases, catalogue and
 * statistics repeat (field names, id types, common materials, place words, codes), so even a
 * small frame compresses well. Both ends must use the same bytes: it is part of the wire
 * format, and changing it means a new LINK_PROTOCOL_VERSION.
 */
export const LINK_DICTIONARY: string = 
  [
    '{"id":"511302101201-20261123-0001","itemCode":"C-001","itemVersion":1,"applicant":{"name":"","idType":"resident-id",',
    '"idNumber":"511302198001011234","phone":"138"},"materials":["居民身份证","户口簿","申请书","近期免冠照片","结婚证","营业执照",',
    '"证明材料","房屋","土地","村民委员会","乡镇","县","市"],"originCode":"511302101201","handlerCode":"511302000000",',
    '"createdAt":"2026-11-23T08:00:00.000Z","createdBy":"agent","kind":"promised","promisedDays":5}',
    '{"type":"accepted","id":"511302000000-","lamport":1,"author":"511302000000","user":"staff","at":"2026-11-23T08:00:00.000Z"}',
    'approved denied delivered withdrawn rated correction-requested resumed rating note reason',
    '"accepted":0,"completed":0,"approved":0,"denied":0,"onTime":0,"onSpot":0,"promisedCompleted":0,"early":0,"overdue":0,"dueSoon":0,"ratings":[0,0,0,0,0]',
    'case:511302101201-2026 catalogue:511300000000 stats:511302101201:2026-',
  ].join('')
