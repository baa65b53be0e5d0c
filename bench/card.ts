/**
 * The matrix card every ecard measurement draws: the same serial and 80 values
 * in the bench process, the PHP callers' payload and the floor responders.
 */
import { drawCard, layoutFor } from '../src/services/functions/ecard/card.js';
import { greyPng } from '../src/services/functions/ecard/png.js';

export const CARD = { pSN: '1234567890', pData: Array.from({ length: 80 }, (_, i) => String((i * 37) % 100).padStart(2, '0')).join(', ') };

/**
 * The least any ecard worker does per card: draw it and encode the PNG, as the
 * ecard function does, with no parameters to read (the card is always CARD).
 */
export async function bareCardRenderer(): Promise<() => Buffer> {
  const layout = await layoutFor(1);
  const values = CARD.pData.split(', ');
  return () => greyPng(drawCard(layout, CARD.pSN, values), layout.width, layout.height);
}
