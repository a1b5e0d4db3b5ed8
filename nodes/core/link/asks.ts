/**
 * Questions on a link (the `ask` and `answer` frames): a parent asks a child about a case the
 * child's subtree holds — today the public progress lookup (protocol/progress.ts), passed down
 * towards the window that took the case in. Only the parent asks; only the child answers.
 *
 * Neither end trusts the other's frames: an ask from a child, an answer nobody asked for, a
 * body that is not the schema's, or an answer about another case is logged and answered or
 * dropped, never thrown; a child that does not answer in time is reported `unreachable`; a
 * parent may have at most MAX_ANSWERING questions in work at once here (more are answered
 * `limited`), so it cannot make this node do unbounded work.
 */
import { LinkAnswerSchema, LinkAskSchema, type AnswerFrame, type AskFrame, type LinkAnswer, type LinkAsk, type LinkFrame } from '../../../protocol/index.ts'

/** How long an ask waits for the child (it may itself ask its own child, over a slow line). */
export const ASK_TIMEOUT_MS = 15_000
/** Asks from the parent in work here at once. */
export const MAX_ANSWERING = 8
/** Asks to the child waiting for an answer at once; more are answered `unreachable` at once. */
const MAX_WAITING = 256

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body)
  } catch {
    return undefined
  }
}

export class LinkAsks {
  private readonly waiting = new Map<number, { ask: LinkAsk; done: (a: LinkAnswer) => void; timer: NodeJS.Timeout }>()
  private next = 1
  private answering = 0
  private closed = false

  constructor(
    private readonly peer: string,
    private readonly peerIsChild: boolean,
    private readonly send: (f: LinkFrame) => void,
    private readonly answerer: (ask: LinkAsk) => Promise<LinkAnswer>,
    private readonly log: (msg: string) => void,
  ) {}

  /** Asks the child; resolves with its answer, or `unreachable` when the link closes or time runs out. */
  ask(a: LinkAsk, timeoutMs = ASK_TIMEOUT_MS): Promise<LinkAnswer> {
    const unreachable: LinkAnswer = { outcome: 'unreachable', unit: this.peer }
    if (!this.peerIsChild || this.closed || this.waiting.size >= MAX_WAITING) return Promise.resolve(unreachable)
    const id = this.next++
    return new Promise<LinkAnswer>((resolve) => {
      const done = (answer: LinkAnswer) => {
        clearTimeout(this.waiting.get(id)?.timer)
        this.waiting.delete(id)
        resolve(answer)
      }
      const timer = setTimeout(() => done(unreachable), timeoutMs)
      timer.unref()
      this.waiting.set(id, { ask: a, done, timer })
      this.send({ type: 'ask', id, body: JSON.stringify(a) })
    })
  }

  /** An ask from the peer: answered (in the background: the frame loop does not wait for it). */
  onAsk(f: AskFrame): void {
    const reply = (a: LinkAnswer) => this.send({ type: 'answer', id: f.id, body: JSON.stringify(a) })
    if (this.peerIsChild) {
      this.log(`refused an ask from ${this.peer}: a child does not ask its parent (answered not-found)`)
      return reply({ outcome: 'not-found' })
    }
    const parsed = LinkAskSchema.safeParse(parseJson(f.body))
    if (!parsed.success) {
      this.log(`refused an ask from ${this.peer}: ${parsed.error.issues[0]?.message ?? 'not an ask'} (answered not-found)`)
      return reply({ outcome: 'not-found' })
    }
    if (this.answering >= MAX_ANSWERING) {
      this.log(`refused an ask from ${this.peer}: ${MAX_ANSWERING} already in work (answered limited)`)
      return reply({ outcome: 'limited', retryAfterSeconds: 5 })
    }
    this.answering++
    void this.answerer(parsed.data)
      .catch((e): LinkAnswer => {
        this.log(`answering an ask from ${this.peer} failed: ${(e as Error)?.message ?? String(e)}`)
        return { outcome: 'not-found' }
      })
      .then((a) => {
        this.answering--
        if (!this.closed) reply(a)
      })
  }

  /** An answer from the peer: it settles the ask it names, if we asked it and it is about that case. */
  onAnswer(f: AnswerFrame): void {
    const w = this.waiting.get(f.id)
    if (!w) return this.log(`dropped an answer from ${this.peer} to ask ${f.id}: not asked, or already answered`)
    const parsed = LinkAnswerSchema.safeParse(parseJson(f.body))
    if (!parsed.success) {
      this.log(`dropped an answer from ${this.peer}: ${parsed.error.issues[0]?.message ?? 'not an answer'}`)
      return w.done({ outcome: 'unreachable', unit: this.peer })
    }
    const a = parsed.data
    if (a.outcome === 'found' && a.progress.id !== w.ask.caseId) {
      this.log(`dropped an answer from ${this.peer}: it is about ${a.progress.id}, the ask about ${w.ask.caseId}`)
      return w.done({ outcome: 'unreachable', unit: this.peer })
    }
    w.done(a)
  }

  /** The link closed: every ask still waiting is answered `unreachable`. */
  close(): void {
    this.closed = true
    for (const w of [...this.waiting.values()]) w.done({ outcome: 'unreachable', unit: this.peer })
  }
}
