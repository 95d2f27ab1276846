// Image decoders of runtime/data/image_decode.ts, pinned, in one place (a module imported from a URL gets
// no import map). Both are pure JavaScript with no install script: fast-png (MIT, image-js; PNG of every
// colour type, bit depth and interlace) and jpeg-js (BSD-3-Clause; baseline and progressive JPEG). Their
// encoders make the test images of tests/image_folder_test.ts.
export { decode as decodePng, encode as encodePng } from "npm:fast-png@8.0.0";
export { default as jpegJs } from "npm:jpeg-js@0.4.4";
