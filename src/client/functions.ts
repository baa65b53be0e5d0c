/**
 * What each DIPS function takes and returns, for TypeScript callers:
 * `dips.call('ecard', …)` resolves to `Uint8Array`, `dips.call('info', …)` to
 * `ImageInfo`, and each function's parameters are checked by the compiler.
 * Names not listed here (a legacy Gearman worker's functions) still work and
 * resolve to `unknown`. Kept beside the worker code it describes
 * (src/services/functions, src/services/image/steps.ts).
 */

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'avif' | 'gif' | 'tiff';
export type Gravity = 'north' | 'northeast' | 'east' | 'southeast' | 'south' | 'southwest' | 'west' | 'northwest' | 'center' | 'centre';
/** A colour such as '#ff8800', '#ff880080' or 'white'. */
export type Colour = string;

/** Output options every image function takes. */
export interface OutputParams {
  /** Default: the input's format (jpeg for formats that cannot be written). */
  format?: ImageFormat | 'jpg' | 'tif';
  quality?: number;
  lossless?: boolean;
  progressive?: boolean;
  effort?: number;
  palette?: boolean;
}

export interface ResizeParams extends OutputParams {
  width?: number;
  height?: number;
  fit?: 'cover' | 'contain' | 'fill' | 'inside' | 'outside';
  position?: Gravity | 'attention' | 'entropy';
  kernel?: 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos2' | 'lanczos3';
  background?: Colour;
  withoutEnlargement?: boolean;
}
export interface ThumbnailParams extends OutputParams {
  width?: number;
  height?: number;
  enlarge?: boolean;
}
export interface CropParams extends OutputParams {
  width: number;
  height: number;
  /** With left/top: that rectangle; without: a smart crop. */
  left?: number;
  top?: number;
  strategy?: Gravity | 'attention' | 'entropy';
}
export interface RotateParams extends OutputParams {
  angle: number;
  background?: Colour;
}
export interface ExtendParams extends OutputParams {
  all?: number;
  top?: number;
  bottom?: number;
  left?: number;
  right?: number;
  background?: Colour;
}
export interface BlurParams extends OutputParams {
  sigma?: number;
}
export interface ModulateParams extends OutputParams {
  brightness?: number;
  saturation?: number;
  hue?: number;
  lightness?: number;
}
export interface TrimParams extends OutputParams {
  threshold?: number;
  background?: Colour;
}
export interface WatermarkParams extends OutputParams {
  text?: string;
  font?: 'sans' | 'sans-bold' | 'mono-bold';
  size?: number;
  opacity?: number;
  gravity?: Gravity;
  margin?: number;
  angle?: number;
  tiled?: boolean;
  /** For an image watermark: its size relative to the picture. */
  scale?: number;
}
export interface PipelineParams extends OutputParams {
  steps: Array<{ op: Exclude<ImageFunction, 'convert' | 'pipeline' | 'info'> } & Record<string, unknown>>;
}

export interface ImageInfo {
  format: string;
  width: number;
  height: number;
  orientation: number;
  channels: number;
  depth: string;
  space: string;
  hasAlpha: boolean;
  hasProfile: boolean;
  pages: number;
  bytes: number;
}

export interface EcardParams {
  /** Serial number printed on the card: 1 to 32 letters, digits or dashes. */
  pSN: string;
  /** The 80 two-digit values, as the seed's comma-separated string or a list. */
  pData: string | Array<string | number>;
  format?: 'png' | 'webp' | 'jpeg';
  scale?: 1 | 2 | 3 | 4;
}

/**
 * An image function: the image is the body and its parameters go in
 * `options.params`; or one map with the image bytes under `image` (as PHP callers send).
 */
interface ImageCall<P, R = Uint8Array> {
  input: Uint8Array | (P & { image: Uint8Array; watermark?: Uint8Array });
  params: P;
  result: R;
}
/** A function of parameters only. */
interface ParamsCall<I, R> {
  input: I;
  params: never;
  result: R;
}

export interface DipsFunctions {
  ecard: ParamsCall<EcardParams, Uint8Array>;
  echo: ParamsCall<Uint8Array | Record<string, unknown>, unknown>;
  delay: ParamsCall<{ ms?: number; steps?: number; value?: unknown }, unknown>;
  thumbnail: ImageCall<ThumbnailParams>;
  resize: ImageCall<ResizeParams>;
  crop: ImageCall<CropParams>;
  rotate: ImageCall<RotateParams>;
  flip: ImageCall<OutputParams>;
  flop: ImageCall<OutputParams>;
  extend: ImageCall<ExtendParams>;
  blur: ImageCall<BlurParams>;
  sharpen: ImageCall<BlurParams>;
  modulate: ImageCall<ModulateParams>;
  grayscale: ImageCall<OutputParams>;
  trim: ImageCall<TrimParams>;
  watermark: ImageCall<WatermarkParams>;
  convert: ImageCall<OutputParams & { format: ImageFormat | 'jpg' | 'tif' }>;
  pipeline: ImageCall<PipelineParams>;
  info: ImageCall<object, ImageInfo>;
}

export type DipsFunction = keyof DipsFunctions;
export type ImageFunction = { [F in DipsFunction]: DipsFunctions[F] extends ImageCall<unknown, unknown> ? F : never }[DipsFunction];
