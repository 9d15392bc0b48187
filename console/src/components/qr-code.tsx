import { useMemo } from 'preact/hooks';
import QRCode from 'qrcode';

/**
 * A QR code drawn as SVG in the page (no image URL, no third party): one path of dark modules with the
 * four-module quiet zone scanners need.
 */
export function QrCode({ text, label }: { text: string; label: string }) {
  const path = useMemo(() => {
    const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' });
    const parts: string[] = [];
    for (let y = 0; y < modules.size; y++) {
      for (let x = 0; x < modules.size; x++) {
        if (modules.get(y, x)) parts.push(`M${x + 4} ${y + 4}h1v1h-1z`);
      }
    }
    return { d: parts.join(''), size: modules.size + 8 };
  }, [text]);
  return (
    <svg
      class="qr"
      role="img"
      aria-label={label}
      viewBox={`0 0 ${path.size} ${path.size}`}
      shape-rendering="crispEdges"
      xmlns="http://www.w3.org/2000/svg"
    >
      <rect width={path.size} height={path.size} fill="#fff" />
      <path d={path.d} fill="#000" />
    </svg>
  );
}
