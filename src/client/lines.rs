//! Lines from a child process's output with a ceiling on each: a sidecar that writes a line
//! without end (by a bug, or a page that logs a whole video frame) costs at most the limit in
//! memory, and the reader says so instead of growing until the machine runs out.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// The longest line a sidecar may send: its events are a few hundred bytes, a stats event a
/// few kB.
pub const MAX_LINE: usize = 1 << 20;

#[derive(Debug, PartialEq)]
pub enum Line {
    Text(String),
    /// A line that went past the limit: returned as soon as it does, its bytes so far dropped;
    /// the rest of it is read as what follows.
    TooLong,
}

/// The next line of `reader` (without its newline, invalid UTF-8 replaced), at most `limit`
/// bytes held; None at the end of the stream.
pub async fn next_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    limit: usize,
) -> std::io::Result<Option<Line>> {
    let mut held: Vec<u8> = Vec::new();
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok((!held.is_empty()).then(|| text(&held)));
        }
        let newline = available.iter().position(|&b| b == b'\n');
        let part = &available[..newline.unwrap_or(available.len())];
        if held.len() + part.len() > limit {
            let consumed = newline.map_or(part.len(), |at| at + 1);
            reader.consume(consumed);
            return Ok(Some(Line::TooLong));
        }
        held.extend_from_slice(part);
        match newline {
            Some(at) => {
                reader.consume(at + 1);
                return Ok(Some(text(&held)));
            }
            None => {
                let n = part.len();
                reader.consume(n);
            }
        }
    }
}

fn text(bytes: &[u8]) -> Line {
    Line::Text(String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all(input: &[u8], limit: usize) -> Vec<Line> {
        let mut reader = tokio::io::BufReader::with_capacity(4, input);
        let mut out = Vec::new();
        while let Some(line) = next_line(&mut reader, limit).await.expect("read") {
            out.push(line);
        }
        out
    }

    #[tokio::test]
    async fn lines_within_the_limit_come_whole_and_a_longer_one_is_cut() {
        let long = [b'x'; 100];
        let input = [b"{\"a\":1}\n".as_slice(), &long, b"\nok\nlast"].concat();
        let lines = all(&input, 16).await;
        assert_eq!(lines[0], Line::Text("{\"a\":1}".into()));
        assert_eq!(lines[1], Line::TooLong);
        // What is left of the long line comes in pieces, none over the limit.
        assert!(lines[1..lines.len() - 2]
            .iter()
            .all(|l| matches!(l, Line::TooLong) || matches!(l, Line::Text(t) if t.len() <= 16)));
        assert_eq!(
            lines[lines.len() - 2..],
            [Line::Text("ok".into()), Line::Text("last".into())]
        );
    }

    #[tokio::test]
    async fn an_endless_line_is_refused_once_past_the_limit() {
        let (mut writer, reader) = tokio::io::duplex(64 << 10);
        let mut reader = tokio::io::BufReader::new(reader);
        // The writer never ends the line and never closes: the refusal cannot wait for either.
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let chunk = vec![b'y'; 4096];
            while writer.write_all(&chunk).await.is_ok() {}
        });
        let line = next_line(&mut reader, 1 << 16).await.expect("read");
        assert_eq!(line, Some(Line::TooLong));
    }
}
