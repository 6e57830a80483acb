/** Types of scripts/bundle.mjs (plain JavaScript so that bin/iospec.mjs can load it without tsx). */
export declare const ROOT: string;
export declare const BUNDLE: string;
export declare function bundleIsFresh(): boolean;
export declare function buildBundle(): Promise<boolean>;
export declare function loadBundle(): { exports: { main(argv: string[]): Promise<number> }; saveCache(): void };
