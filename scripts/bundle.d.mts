// Types of scripts/bundle.mjs (plain JavaScript: it runs before anything is compiled).
export declare const ROOT: string
export declare const DIST: string
export declare const UI_DIST: string
export declare const ENTRIES: Record<string, string>
export declare function isFresh(): boolean
export declare function freshBundle(name: string): string | null
export declare function build(): Promise<void>
