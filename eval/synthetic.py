"""A deterministic generator of health-style English documents and questions, for benchmarks at scale.

Everything comes from a seeded ``random.Random`` and the vocabularies below: no downloads, no external
data, the same output for the same arguments on every machine. The text is not medical advice or
even true; it only has the shape of consumer-health articles (headings, paragraphs of sentences of
varied length, numbers, abbreviations such as "Dr." and "e.g.", quotes), so chunking, BM25 and
embedding see realistic input.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from pathlib import Path

from corpus.types import Document

GENERATOR = "eval.synthetic"
CORPUS_FILE = "corpus.jsonl"


def _terms(text: str) -> tuple[str, ...]:
    """A vocabulary written as comma-separated terms (a compact literal)."""
    return tuple(" ".join(term.split()) for term in text.split(",") if term.strip())


CONDITIONS = _terms("""
    eczema, psoriasis, rosacea, acne, milia, hives, shingles, asthma, bronchitis, pneumonia, migraine,
    tension headache, insomnia, sleep apnea, type 2 diabetes, high blood pressure, high cholesterol,
    anemia, gout, osteoarthritis, rheumatoid arthritis, osteoporosis, plantar fasciitis, tendinitis,
    carpal tunnel syndrome, sciatica, irritable bowel syndrome, acid reflux, celiac disease, gallstones,
    kidney stones, urinary tract infection, hypothyroidism, hyperthyroidism, iron deficiency, vitamin D
    deficiency, seasonal allergies, sinusitis, ear infection, conjunctivitis, dry eye, glaucoma,
    cataracts, tinnitus, vertigo, anxiety, depression, chickenpox, measles, head lice, athlete's foot,
    ringworm, cold sores, warts, sunburn, heat rash, varicose veins, hemorrhoids, lactose intolerance,
    food poisoning
""")
BODY_PARTS = _terms("""
    skin, face, scalp, eyelids, cheeks, forehead, neck, chest, back, lower back, shoulders, elbows,
    wrists, hands, fingers, hips, knees, ankles, feet, heels, toes, joints, lungs, airways, sinuses,
    throat, stomach, bowel, liver, kidneys, bladder, heart, blood vessels, thyroid, eyes, ears, mouth,
    gums, nerves, muscles
""")
SYMPTOMS = _terms("""
    itching, redness, swelling, dryness, flaking, a burning feeling, tenderness, stiffness, a dull ache,
    sharp pain, fatigue, a low fever, chills, nausea, bloating, cramping, a persistent cough, wheezing,
    shortness of breath, dizziness, headaches, blurred vision, ringing in the ears, trouble sleeping,
    loss of appetite, weight changes, small white bumps, blisters, a rash, numbness, tingling, muscle
    weakness, night sweats, a racing heart
""")
TREATMENTS = _terms("""
    a fragrance-free moisturizer, a topical steroid cream, an antihistamine, a short course of
    antibiotics, an antiviral tablet, gentle exfoliation, a retinoid cream, salicylic acid, cool
    compresses, physical therapy, stretching exercises, an anti-inflammatory painkiller, a low-dose
    inhaler, a nasal spray, saline rinses, iron supplements, vitamin D supplements, a change in diet,
    regular exercise, better sleep habits, cognitive behavioral therapy, compression stockings, a splint
    worn at night, ice and rest, warm baths, an oral medication, light therapy, a prescription ointment,
    eye drops, ear drops, a fiber supplement, weight loss
""")
TRIGGERS = _terms("""
    stress, cold weather, hot showers, harsh soaps, pollen, dust mites, pet dander, certain foods,
    alcohol, smoking, lack of sleep, dehydration, sun exposure, tight clothing, hormonal changes, a
    recent infection, heavy lifting, long hours at a desk, sweating
""")
GROUPS = _terms("""
    newborns, infants, toddlers, children, teenagers, adults, older adults, pregnant women, athletes,
    people with diabetes, people over 50, office workers, people with fair skin
""")
DOCTORS = _terms("""
    Dr. Maria Alvarez, Dr. James Okafor, Dr. Priya Raman, Dr. Helen Novak, Dr. Samuel Brooks, Dr. Aiko
    Tanaka, Dr. Omar Haddad, Dr. Claire Dubois, Dr. Peter Lindqvist, Dr. Grace Mensah
""")
ROLES = _terms("""
    a dermatologist, a family physician, a pediatrician, an allergist, a rheumatologist, a sleep
    specialist, a physical therapist, a gastroenterologist, a registered nurse
""")
PUBLISHERS = (
    ("Healthy Living Guide", "healthylivingguide.example"),
    ("Family Health Notes", "familyhealthnotes.example"),
    ("The Clinic Journal", "clinicjournal.example"),
    ("Wellness Today", "wellnesstoday.example"),
    ("Community Care Online", "communitycare.example"),
    ("Skin and Body Blog", "skinandbody.example"),
)
AUTHORS = _terms("""
    Anna Keller, Ben Hartley, Carmen Ortiz, David Chen, Emily Stone, Farid Nasser, Julia Weber, Kwame
    Asante, Laura Rossi, Nina Petrova, Robert Miles, Sofia Lopes
""")
FREQUENCIES = _terms("rarely, sometimes, often, usually, occasionally, frequently")
DURATIONS = _terms("""
    a few days, one to two weeks, about a month, several weeks, three to six months, a year or more, 48
    hours, 10 to 14 days
""")

TITLE_TEMPLATES = (
    "{Condition}: causes, symptoms and treatment",
    "What is {condition}?",
    "{Condition} in {group}: what to know",
    "How to manage {condition} at home",
    "Ask the doctor: {condition} on the {body_part}",
    "{Condition} explained",
    "Living with {condition}",
    "When to see a doctor about {condition}",
)
HEADINGS = (
    "Overview",
    "Symptoms",
    "Causes",
    "Diagnosis",
    "Treatment",
    "Prevention",
    "Outlook",
    "Key takeaways",
)
SENTENCES = (
    "{Condition} is common.",
    "It is {frequency} mild.",
    "Most cases clear up within {duration}.",
    "{Condition} often affects the {body_part}.",
    "The most common signs are {symptom} and {symptom2}.",
    "Some people notice {symptom} on the {body_part} first, followed by {symptom2} a few days later.",
    "About {percent} percent of {group} will have {condition} at some point, according to a survey of "
    "{number} patients.",
    "Triggers include {trigger}, {trigger2} and, less often, {trigger3}.",
    "Doctors {frequency} recommend {treatment} as a first step.",
    "If {treatment} does not help after {duration}, {treatment2} may be the next option.",
    '"Most of my patients with {condition} improve with {treatment}," says {doctor}, {role}.',
    "{doctor}, {role}, suggests keeping a diary of symptoms, e.g. when {symptom} starts and what seems to "
    "make it worse.",
    "{Condition} is not contagious, but it can look alarming on the {body_part}.",
    "In {group}, the signs can be different: {symptom} is more common than {symptom2}.",
    "There is no single test for {condition}; a doctor usually looks at the {body_part} and asks about your "
    "history.",
    "Blood tests, i.e. a full blood count and a check of {nutrient} levels, can rule out other causes.",
    "Avoid {trigger} where you can.",
    "Call your doctor if you have {symptom} that lasts longer than {duration}.",
    "Seek urgent care if {symptom} comes with {symptom2} or a fever above {fever} degrees.",
    "Studies of approx. {number} {group} found that {treatment} cut flare-ups by {percent} percent.",
    "Not everyone needs treatment, and many people simply wait for {condition} to settle.",
    "Why does {condition} happen? The exact cause is unclear, but {trigger} may play a part.",
    "Start {treatment} as directed, and be patient: results may take {duration}.",
    "Simple options such as {treatment} are a good start for mild cases.",
    "Never pick or squeeze the {body_part}, since that can lead to scarring or infection.",
    "Wear loose clothing and keep the {body_part} clean and dry.",
    "The outlook is good, and most {group} recover fully.",
    "{Condition} can come back, so it helps to know your own triggers.",
    "A referral to {role} may be useful if the problem keeps returning.",
    'Many readers ask the same thing: "Is {condition} serious?"',
    "The short answer is no, although {symptom} can be uncomfortable.",
    "Drink plenty of water, eat a balanced diet and get at least {hours} hours of sleep.",
)
NUTRIENTS = _terms("""
    iron, vitamin D, vitamin B12, thyroid hormone, blood sugar, calcium
""")
QUESTION_TEMPLATES = (
    "what are the symptoms of {condition}?",
    "how is {condition} treated",
    "can {treatment} help with {condition}?",
    "is {condition} on the {body_part} serious",
    "what causes {condition} in {group}?",
    "how long does {condition} last",
    "does {trigger} make {condition} worse?",
    "when should I see a doctor about {symptom} on my {body_part}",
    "is {condition} contagious?",
    "how do doctors diagnose {condition}",
    "what can I do at home for {condition} and {symptom}",
    "{condition} {body_part} treatment",
)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _topic(rng: random.Random) -> dict[str, str]:
    """The main subject of one document: every sentence draws its condition, body part, etc. from here."""
    return {
        "condition": rng.choice(CONDITIONS),
        "body_part": rng.choice(BODY_PARTS),
        "treatment": rng.choice(TREATMENTS),
        "group": rng.choice(GROUPS),
    }


def _fill(template: str, topic: dict[str, str], rng: random.Random) -> str:
    """One sentence: mostly the document's own topic, sometimes a neighbouring one (as real articles do)."""
    symptoms = rng.sample(SYMPTOMS, 2)
    triggers = rng.sample(TRIGGERS, 3)
    treatments = rng.sample(TREATMENTS, 2)
    condition = topic["condition"] if rng.random() < 0.85 else rng.choice(CONDITIONS)
    values = {
        "condition": condition,
        "Condition": _capitalize(condition),
        "body_part": topic["body_part"] if rng.random() < 0.7 else rng.choice(BODY_PARTS),
        "treatment": topic["treatment"] if rng.random() < 0.6 else treatments[0],
        "treatment2": treatments[1],
        "group": topic["group"] if rng.random() < 0.6 else rng.choice(GROUPS),
        "symptom": symptoms[0],
        "symptom2": symptoms[1],
        "trigger": triggers[0],
        "trigger2": triggers[1],
        "trigger3": triggers[2],
        "frequency": rng.choice(FREQUENCIES),
        "duration": rng.choice(DURATIONS),
        "doctor": rng.choice(DOCTORS),
        "role": rng.choice(ROLES),
        "percent": str(rng.randint(2, 60)),
        "number": f"{rng.randint(40, 12000):,}",
        "fever": f"{rng.choice((38, 38.5, 39, 101, 102))}",
        "hours": str(rng.randint(7, 9)),
        "nutrient": rng.choice(NUTRIENTS),
    }
    return template.format(**values)


def _paragraph(topic: dict[str, str], rng: random.Random) -> str:
    count = rng.randint(3, 8)
    return " ".join(_fill(rng.choice(SENTENCES), topic, rng) for _ in range(count))


def _document_text(topic: dict[str, str], rng: random.Random) -> str:
    """About five paragraphs, most under a heading line, as captured web articles look."""
    blocks = []
    headings = rng.sample(HEADINGS, len(HEADINGS))
    for number in range(rng.randint(3, 7)):
        paragraph = _paragraph(topic, rng)
        heading = headings[number % len(headings)]
        blocks.append(f"{heading}\n{paragraph}" if rng.random() < 0.6 else paragraph)
    return "\n\n".join(blocks)


def _document(number: int, rng: random.Random, seed: int) -> Document:
    topic = _topic(rng)
    values = {**topic, "Condition": _capitalize(topic["condition"])}
    title = rng.choice(TITLE_TEMPLATES).format(**values)
    publisher, domain = rng.choice(PUBLISHERS) if rng.random() < 0.7 else (None, None)
    author = rng.choice(AUTHORS) if rng.random() < 0.5 else None
    url = f"https://{domain}/articles/{number}-{_slug(title)}" if domain and rng.random() < 0.8 else None
    return Document(
        doc_id=f"syn-{seed}-{number:07d}",
        title=title,
        text=_document_text(topic, rng),
        author=author,
        publisher=publisher,
        url=url,
        provenance=f"synthetic ({GENERATOR}, seed {seed})",
        metadata={"generator": GENERATOR, **topic},
    )


# Words of a document per passage that the default chunker (ChunkerSettings(): 120-word passages,
# up to 30 words of whole-sentence overlap) cuts from this generator's text, measured over seeds 0-3.
WORDS_PER_DEFAULT_PASSAGE = 86


def synthetic_documents(
    n_passages_target: int, seed: int = 0, words_per_passage: int = WORDS_PER_DEFAULT_PASSAGE
) -> list[Document]:
    """Documents of about ``n_passages_target * words_per_passage`` words in all.

    ``words_per_passage`` is how far each passage advances through a document; passages overlap, so
    each holds more words than that. The default makes the default chunker yield about
    ``n_passages_target`` passages (within a few percent); pass the stride of another chunker to
    target it instead.
    """
    if n_passages_target < 1:
        raise ValueError("n_passages_target must be at least 1")
    if words_per_passage < 1:
        raise ValueError("words_per_passage must be at least 1")
    rng = random.Random(seed)
    budget = n_passages_target * words_per_passage
    documents: list[Document] = []
    words = 0
    while words < budget:
        document = _document(len(documents), rng, seed)
        documents.append(document)
        words += len(document.text.split())
    return documents


def synthetic_questions(documents: Sequence[Document], n: int, seed: int = 0) -> list[str]:
    """``n`` user-style questions, each about the topic of a randomly chosen document."""
    if not documents:
        raise ValueError("no documents to ask about")
    rng = random.Random(seed)
    questions = []
    for _ in range(n):
        document = rng.choice(documents)
        topic = {key: document.metadata.get(key) for key in ("condition", "body_part", "treatment", "group")}
        values = {
            "condition": topic["condition"] or document.title.lower(),
            "body_part": topic["body_part"] or rng.choice(BODY_PARTS),
            "treatment": topic["treatment"] or rng.choice(TREATMENTS),
            "group": topic["group"] or rng.choice(GROUPS),
            "symptom": rng.choice(SYMPTOMS),
            "trigger": rng.choice(TRIGGERS),
        }
        questions.append(rng.choice(QUESTION_TEMPLATES).format(**values))
    return questions


def beir_record(document: Document) -> dict[str, object]:
    """A BEIR corpus line; author, publisher and url go in metadata, as eval.beir reads them back."""
    metadata: dict[str, object] = dict(document.metadata)
    for key in ("url", "author", "publisher"):
        value = getattr(document, key)
        if value is not None:
            metadata[key] = value
    return {"_id": document.doc_id, "title": document.title, "text": document.text, "metadata": metadata}


def write_beir_corpus(documents: Sequence[Document], path: Path) -> Path:
    """Write ``documents`` as a BEIR corpus.jsonl (``path`` is the file, or a folder to hold one).

    Returns the file written; ``citeqa index --corpus`` and ``corpus.sources.load_corpus`` read it.
    """
    path = Path(path)
    file = path if path.suffix == ".jsonl" else path / CORPUS_FILE
    file.parent.mkdir(parents=True, exist_ok=True)
    with file.open("w", encoding="utf-8") as out:
        for document in documents:
            out.write(json.dumps(beir_record(document), ensure_ascii=False))
            out.write("\n")
    return file
